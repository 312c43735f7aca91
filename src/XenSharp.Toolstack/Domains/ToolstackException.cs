namespace XenSharp.Toolstack.Domains;

/// <summary>A request the toolstack refuses; the message is one line for the user.</summary>
public sealed class ToolstackException(string message) : Exception(message);
