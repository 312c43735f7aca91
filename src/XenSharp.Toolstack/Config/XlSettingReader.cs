namespace XenSharp.Toolstack.Config;

/// <summary>
/// Typed reads of a setting's value with xl's leniency (a number may stand for text and a quoted
/// numeric string for a number), raising <c>FILE:LINE: key: bad value 'x' (accepted: ...)</c>.
/// </summary>
internal static class XlSettingReader
{
    /// <summary>The setting's single value as text; a list is a bad value.</summary>
    public static string Text(XlSetting setting, string accepted) =>
        setting.Value.ScalarText ?? throw BadValue(setting, accepted);

    /// <summary>The setting's value as an integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static long Integer(XlSetting setting, long min, long max, string accepted)
    {
        long value;
        switch (setting.Value)
        {
            case XlNumber number:
                value = number.Value;
                break;
            case XlString text when XlNumber.TryParse(text.Value, out long parsed, out _):
                value = parsed;
                break;
            default:
                throw BadValue(setting, accepted);
        }
        if (setting.Appended)
        {
            throw BadValue(setting, accepted + ", set with '=' ('+=' joins text and cannot be used with numbers)");
        }
        if (value < min || value > max)
        {
            throw BadValue(setting, accepted);
        }
        return value;
    }

    /// <summary>The bad-value error for <paramref name="setting"/>, showing its value.</summary>
    public static XlConfigException BadValue(XlSetting setting, string accepted) =>
        XlConfigException.BadValue(setting, Show(setting.Value), accepted);

    /// <summary>A value as shown between quotes in messages: the text itself, or a list in xl syntax.</summary>
    public static string Show(XlValue value) =>
        value.ScalarText is { } text ? XlString.Escape(text) : value.ToString();
}
