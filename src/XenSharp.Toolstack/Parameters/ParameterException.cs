namespace XenSharp.Toolstack.Parameters;

/// <summary>A parameter assignment that cannot be applied; the message names the parameter and what is accepted.</summary>
public sealed class ParameterException(string message) : Exception(message);
