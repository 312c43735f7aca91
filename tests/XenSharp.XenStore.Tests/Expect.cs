using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore.Tests;

/// <summary>Assertion helpers for replies.</summary>
public static class Expect
{
    public static void Ok(Received r) => Assert.True(!r.IsError && r.Text == "OK", $"expected OK, got {r}");

    public static void Error(string name, Received r) => Assert.True(r.IsError && r.Error == name, $"expected {name}, got {r}");

    public static void Value(string value, Received r)
    {
        Assert.False(r.IsError, r.ToString());
        Assert.Equal(value, XsPayload.Text(r.Payload));
    }
}
