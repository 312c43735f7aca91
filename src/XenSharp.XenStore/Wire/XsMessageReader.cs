namespace XenSharp.XenStore.Wire;

/// <summary>
/// Splits a byte stream into <see cref="XsMessage"/>s. Bytes may arrive in any split: a partial
/// header or payload is kept until the rest comes. A header announcing more than
/// <see cref="XsWireLimits.PayloadMax"/> bytes is a protocol error, after which the reader
/// produces nothing more (xenstored drops such a client).
/// </summary>
public sealed class XsMessageReader
{
    private readonly byte[] _header = new byte[XsMessageHeader.Size];
    private int _headerFill;
    private XsMessageHeader _current;
    private byte[]? _payload;
    private int _payloadFill;

    /// <summary>Whether a protocol error was seen.</summary>
    public bool Failed { get; private set; }

    /// <summary>Bytes of an incomplete message held back (header and payload).</summary>
    public int BufferedBytes => _headerFill + _payloadFill;

    /// <summary>
    /// Consumes bytes from <paramref name="input"/> (advancing it) until one message is complete,
    /// the input is exhausted, or the stream turns out to be malformed.
    /// </summary>
    public XsReadStatus TryRead(ref ReadOnlySpan<byte> input, out XsMessage message)
    {
        message = default;
        if (Failed) return XsReadStatus.ProtocolError;

        if (_headerFill < XsMessageHeader.Size)
        {
            int take = Math.Min(XsMessageHeader.Size - _headerFill, input.Length);
            input[..take].CopyTo(_header.AsSpan(_headerFill));
            _headerFill += take;
            input = input[take..];
            if (_headerFill < XsMessageHeader.Size) return XsReadStatus.NeedMoreData;

            _current = XsMessageHeader.Read(_header);
            if (_current.Length > XsWireLimits.PayloadMax)
            {
                Failed = true;
                return XsReadStatus.ProtocolError;
            }
            _payload = _current.Length == 0 ? [] : new byte[_current.Length];
            _payloadFill = 0;
        }

        int want = (int)_current.Length - _payloadFill;
        int n = Math.Min(want, input.Length);
        input[..n].CopyTo(_payload.AsSpan(_payloadFill));
        _payloadFill += n;
        input = input[n..];
        if (_payloadFill < _current.Length) return XsReadStatus.NeedMoreData;

        message = new XsMessage(_current, _payload);
        _headerFill = 0;
        _payloadFill = 0;
        _payload = null;
        return XsReadStatus.Message;
    }
}
