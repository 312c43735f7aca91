namespace XenSharp.Kvm;

/// <summary>The host cannot run guests through KVM; the message says what is missing and what to do.</summary>
public sealed class KvmUnavailableException(string message) : Exception(message);
