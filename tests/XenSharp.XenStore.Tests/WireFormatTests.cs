using XenSharp.XenStore.Wire;

namespace XenSharp.XenStore.Tests;

public class WireFormatTests
{
    [Fact]
    public void MessageTypesHaveTheHeaderNumbers()
    {
        Assert.Equal(0u, (uint)XsMessageType.Control);
        Assert.Equal(XsMessageType.Control, XsMessageType.Debug);
        Assert.Equal(1u, (uint)XsMessageType.Directory);
        Assert.Equal(2u, (uint)XsMessageType.Read);
        Assert.Equal(3u, (uint)XsMessageType.GetPerms);
        Assert.Equal(4u, (uint)XsMessageType.Watch);
        Assert.Equal(5u, (uint)XsMessageType.Unwatch);
        Assert.Equal(6u, (uint)XsMessageType.TransactionStart);
        Assert.Equal(7u, (uint)XsMessageType.TransactionEnd);
        Assert.Equal(8u, (uint)XsMessageType.Introduce);
        Assert.Equal(9u, (uint)XsMessageType.Release);
        Assert.Equal(10u, (uint)XsMessageType.GetDomainPath);
        Assert.Equal(11u, (uint)XsMessageType.Write);
        Assert.Equal(12u, (uint)XsMessageType.Mkdir);
        Assert.Equal(13u, (uint)XsMessageType.Rm);
        Assert.Equal(14u, (uint)XsMessageType.SetPerms);
        Assert.Equal(15u, (uint)XsMessageType.WatchEvent);
        Assert.Equal(16u, (uint)XsMessageType.Error);
        Assert.Equal(17u, (uint)XsMessageType.IsDomainIntroduced);
        Assert.Equal(18u, (uint)XsMessageType.Resume);
        Assert.Equal(19u, (uint)XsMessageType.SetTarget);
        Assert.Equal(21u, (uint)XsMessageType.ResetWatches); // XS_SET_TARGET + 2: 20 was RESTRICT
        Assert.Equal(22u, (uint)XsMessageType.DirectoryPart);
        Assert.Equal(23u, (uint)XsMessageType.GetFeature);
        Assert.Equal(24u, (uint)XsMessageType.SetFeature);
        Assert.Equal(25u, (uint)XsMessageType.GetQuota);
        Assert.Equal(26u, (uint)XsMessageType.SetQuota);
        Assert.Equal(27u, (uint)XsMessageType.TypeCount);
        Assert.Equal(0xffffu, (uint)XsMessageType.Invalid);
    }

    [Fact]
    public void ErrorTableFollowsTheHeader()
    {
        string[] expected = ["EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO",
            "ENOTEMPTY", "ENOSYS", "EROFS", "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM"];
        Assert.Equal(expected, XsErrors.Table.Select(e => e.Name));
        Assert.Equal(2, XsErrors.ToErrno("ENOENT"));
        Assert.Equal("EAGAIN", XsErrors.FromErrno(11));
        Assert.Equal("EINVAL", XsErrors.FromErrno(9999));
        Assert.True(XsErrors.IsKnown("EPERM"));
        Assert.False(XsErrors.IsKnown("ESRCH"));
    }

    [Fact]
    public void HeaderIsLittleEndian()
    {
        var bytes = XsMessage.Encode(XsMessageType.Write, 0x01020304, 0x0A0B0C0D, [1, 2, 3]);
        Assert.Equal(new byte[] { 11, 0, 0, 0, 4, 3, 2, 1, 0x0D, 0x0C, 0x0B, 0x0A, 3, 0, 0, 0, 1, 2, 3 }, bytes);
        var header = XsMessageHeader.Read(bytes);
        Assert.Equal(new XsMessageHeader(XsMessageType.Write, 0x01020304, 0x0A0B0C0D, 3), header);
        var decoded = XsMessage.Decode(bytes);
        Assert.Equal(new byte[] { 1, 2, 3 }, decoded.Payload.ToArray());
        Assert.Equal(16, XsMessageHeader.Size);
        Assert.Equal(4096, XsWireLimits.PayloadMax);
    }

    [Fact]
    public void ReaderReassemblesMessagesSplitAnywhere()
    {
        var stream = new List<byte>();
        for (int i = 0; i < 5; i++)
            stream.AddRange(XsMessage.Encode(XsMessageType.Read, (uint)i, 0, XsPayload.FromStrings("/path/" + i)));
        stream.AddRange(XsMessage.Encode(XsMessageType.TransactionStart, 9, 0, []));
        var all = stream.ToArray();

        for (int chunk = 1; chunk <= 40; chunk += 3)
        {
            var reader = new XsMessageReader();
            var got = new List<XsMessage>();
            for (int at = 0; at < all.Length; at += chunk)
            {
                ReadOnlySpan<byte> span = all.AsSpan(at, Math.Min(chunk, all.Length - at));
                while (reader.TryRead(ref span, out var m) == XsReadStatus.Message) got.Add(m);
                Assert.Equal(0, span.Length);
            }
            Assert.Equal(6, got.Count);
            Assert.Equal("/path/3", XsPayload.Strings(got[3].Payload.Span)[0]);
            Assert.Equal(0, got[5].Payload.Length);
            Assert.Equal(0, reader.BufferedBytes);
        }
    }

    [Fact]
    public void ReaderRejectsOverlongPayloadsAndStaysFailed()
    {
        var reader = new XsMessageReader();
        var ok = XsMessage.Encode(XsMessageType.Write, 1, 0, new byte[4096]);
        ReadOnlySpan<byte> span = ok;
        Assert.Equal(XsReadStatus.Message, reader.TryRead(ref span, out var m));
        Assert.Equal(4096, m.Payload.Length);

        var header = new byte[16];
        new XsMessageHeader(XsMessageType.Write, 2, 0, 4097).Write(header);
        span = header;
        Assert.Equal(XsReadStatus.ProtocolError, reader.TryRead(ref span, out _));
        Assert.True(reader.Failed);
        span = ok;
        Assert.Equal(XsReadStatus.ProtocolError, reader.TryRead(ref span, out _));
    }

    [Fact]
    public void PayloadHelpersFollowXenstoredArgumentRules()
    {
        Assert.Equal("abc", XsPayload.OneArgument("abc\0"u8));
        Assert.Null(XsPayload.OneArgument("abc"u8));        // no NUL
        Assert.Null(XsPayload.OneArgument("a\0b\0"u8));     // two strings
        Assert.Null(XsPayload.OneArgument(""u8));
        Assert.Equal(["a", "b"], XsPayload.Strings("a\0b\0tail"u8));
        Assert.Equal(2, XsPayload.CountStrings("a\0b\0tail"u8));
    }

    [Fact]
    public void PermissionWireForm()
    {
        Assert.Equal("b0", XenStorePermission.ReadWrite(0).ToString());
        Assert.Equal("r5", XenStorePermission.ReadOnly(5).ToString());
        Assert.Equal("w7", XenStorePermission.WriteOnly(7).ToString());
        Assert.Equal("n32757", XenStorePermission.NoAccess(XenStorePermission.DomidAny).ToString());
        Assert.Equal(XenStorePermission.ReadOnly(16), XenStorePermission.Parse("r0x10"));
        Assert.Equal(XenStorePermission.ReadOnly(8), XenStorePermission.Parse("r010"));
        Assert.False(XenStorePermission.TryParse("x1", out _));
        Assert.False(XenStorePermission.TryParse("r", out _));
        Assert.False(XenStorePermission.TryParse("r1x", out _));
    }
}
