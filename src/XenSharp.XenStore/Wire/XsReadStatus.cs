namespace XenSharp.XenStore.Wire;

/// <summary>Outcome of one <see cref="XsMessageReader.TryRead"/> call.</summary>
public enum XsReadStatus
{
    /// <summary>The input is used up and no whole message is buffered; feed more bytes.</summary>
    NeedMoreData,

    /// <summary>A complete message was produced.</summary>
    Message,

    /// <summary>The stream violated the protocol (payload length over 4096); the reader is dead.</summary>
    ProtocolError,
}
