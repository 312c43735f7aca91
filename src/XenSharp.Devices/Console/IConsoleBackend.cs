namespace XenSharp.Devices.Console;

/// <summary>
/// A console as `xl console` reaches it: output kept and streamed to attached clients, and a
/// bounded path for keyboard input to the guest. The PV console ring (<see cref="PvConsoleBackend"/>)
/// and the emulated SBSA UART of ARM guests (<see cref="VuartConsoleBackend"/>) are both.
/// </summary>
public interface IConsoleBackend
{
    /// <summary>What the guest printed: the newest bytes kept for the next client, live output to attached ones.</summary>
    ConsoleOutputBuffer Output { get; }

    /// <summary>Input for the guest; returns how many bytes were taken (the rest did not fit the bounded queue).</summary>
    int WriteInput(ReadOnlySpan<byte> data);

    /// <summary>Input bytes waiting for the guest to read them.</summary>
    int PendingInput { get; }

    /// <summary>How much input may wait for the guest before more is refused.</summary>
    int InputQueueCapacity { get; }
}
