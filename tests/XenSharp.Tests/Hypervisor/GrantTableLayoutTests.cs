using System.Runtime.InteropServices;
using XenSharp.Abi.Hypercalls;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// The grant-table structure layouts in GrantTableOp.cs, re-derived from C# mirrors of the C
/// declarations in grant_table.h: x86-64 (natural alignment) and i386 (u64 4-aligned: Pack=4;
/// xen_pfn_t, xen_ulong_t and handles 4 bytes).
/// </summary>
public class GrantTableLayoutTests
{
    // x86-64
    [StructLayout(LayoutKind.Sequential)] private struct CopyPtr64 { public ulong U; public ushort DomId; public ushort Offset; }
    [StructLayout(LayoutKind.Sequential)] private struct Copy64 { public CopyPtr64 Source, Dest; public ushort Len; public ushort Flags; public short Status; }
    [StructLayout(LayoutKind.Sequential)] private struct SetupTable64 { public ushort Dom; public uint NrFrames; public short Status; public ulong FrameList; }
    [StructLayout(LayoutKind.Sequential)] private struct GetStatusFrames64 { public uint NrFrames; public ushort Dom; public short Status; public ulong FrameList; }
    [StructLayout(LayoutKind.Sequential)] private struct MapGrantRef64 { public ulong HostAddr; public uint Flags; public uint Ref; public ushort Dom; public short Status; public uint Handle; public ulong DevBusAddr; }
    [StructLayout(LayoutKind.Sequential)] private struct UnmapGrantRef64 { public ulong HostAddr; public ulong DevBusAddr; public uint Handle; public short Status; }
    [StructLayout(LayoutKind.Sequential)] private struct QuerySize64 { public ushort Dom; public uint NrFrames; public uint MaxNrFrames; public short Status; }
    [StructLayout(LayoutKind.Sequential)] private struct SwapGrantRef64 { public uint RefA; public uint RefB; public short Status; }
    [StructLayout(LayoutKind.Sequential)] private struct EntryV2FullPage { public ushort Flags; public ushort DomId; public uint Pad0; public ulong Frame; }
    [StructLayout(LayoutKind.Sequential)] private struct EntryV2SubPage { public ushort Flags; public ushort DomId; public ushort PageOff; public ushort Length; public ulong Frame; }
    [StructLayout(LayoutKind.Sequential)] private struct EntryV2Transitive { public ushort Flags; public ushort DomId; public ushort TransDomId; public ushort Pad0; public uint Gref; }

    // i386
    [StructLayout(LayoutKind.Sequential, Pack = 4)] private struct CopyPtr32 { public uint U; public ushort DomId; public ushort Offset; }
    [StructLayout(LayoutKind.Sequential, Pack = 4)] private struct Copy32 { public CopyPtr32 Source, Dest; public ushort Len; public ushort Flags; public short Status; }
    [StructLayout(LayoutKind.Sequential, Pack = 4)] private struct SetupTable32 { public ushort Dom; public uint NrFrames; public short Status; public uint FrameList; }
    [StructLayout(LayoutKind.Sequential, Pack = 4)] private struct GetStatusFrames32 { public uint NrFrames; public ushort Dom; public short Status; public uint FrameList; }
    [StructLayout(LayoutKind.Sequential, Pack = 4)] private struct MapGrantRef32 { public ulong HostAddr; public uint Flags; public uint Ref; public ushort Dom; public short Status; public uint Handle; public ulong DevBusAddr; }
    [StructLayout(LayoutKind.Sequential, Pack = 4)] private struct UnmapGrantRef32 { public ulong HostAddr; public ulong DevBusAddr; public uint Handle; public short Status; }

    private static int Off<T>(string field) => (int)Marshal.OffsetOf<T>(field);

    [Fact]
    public void Gnttab_copy_layouts()
    {
        Assert.Equal(GnttabCopy.Size64, Marshal.SizeOf<Copy64>());
        Assert.Equal(GnttabCopy.PtrSize64, Marshal.SizeOf<CopyPtr64>());
        Assert.Equal(GnttabCopy.PtrDomId64, Off<CopyPtr64>("DomId"));
        Assert.Equal(GnttabCopy.PtrOffset64, Off<CopyPtr64>("Offset"));
        Assert.Equal(GnttabCopy.Dest64, Off<Copy64>("Dest"));
        Assert.Equal(GnttabCopy.Len64, Off<Copy64>("Len"));
        Assert.Equal(GnttabCopy.Flags64, Off<Copy64>("Flags"));
        Assert.Equal(GnttabCopy.Status64, Off<Copy64>("Status"));

        Assert.Equal(GnttabCopy.Size32, Marshal.SizeOf<Copy32>());
        Assert.Equal(GnttabCopy.PtrSize32, Marshal.SizeOf<CopyPtr32>());
        Assert.Equal(GnttabCopy.PtrDomId32, Off<CopyPtr32>("DomId"));
        Assert.Equal(GnttabCopy.PtrOffset32, Off<CopyPtr32>("Offset"));
        Assert.Equal(GnttabCopy.Dest32, Off<Copy32>("Dest"));
        Assert.Equal(GnttabCopy.Len32, Off<Copy32>("Len"));
        Assert.Equal(GnttabCopy.Flags32, Off<Copy32>("Flags"));
        Assert.Equal(GnttabCopy.Status32, Off<Copy32>("Status"));
    }

    [Fact]
    public void Setup_table_and_get_status_frames_layouts()
    {
        Assert.Equal(GnttabSetupTable.Size64, Marshal.SizeOf<SetupTable64>());
        Assert.Equal(GnttabSetupTable.NrFrames, Off<SetupTable64>("NrFrames"));
        Assert.Equal(GnttabSetupTable.Status, Off<SetupTable64>("Status"));
        Assert.Equal(GnttabSetupTable.FrameList64, Off<SetupTable64>("FrameList"));
        Assert.Equal(GnttabSetupTable.Size32, Marshal.SizeOf<SetupTable32>());
        Assert.Equal(GnttabSetupTable.FrameList32, Off<SetupTable32>("FrameList"));

        Assert.Equal(GnttabGetStatusFrames.Size64, Marshal.SizeOf<GetStatusFrames64>());
        Assert.Equal(GnttabGetStatusFrames.Size32, Marshal.SizeOf<GetStatusFrames32>());
        Assert.Equal(GnttabGetStatusFrames.Dom, Off<GetStatusFrames64>("Dom"));
        Assert.Equal(GnttabGetStatusFrames.Status, Off<GetStatusFrames64>("Status"));
        Assert.Equal(GnttabGetStatusFrames.FrameList, Off<GetStatusFrames64>("FrameList"));
        Assert.Equal(GnttabGetStatusFrames.FrameList, Off<GetStatusFrames32>("FrameList"));
    }

    [Fact]
    public void Map_unmap_query_and_swap_layouts_are_the_same_for_both_modes()
    {
        foreach (var (size, status, handle) in new[]
                 {
                     (Marshal.SizeOf<MapGrantRef64>(), Off<MapGrantRef64>("Status"), Off<MapGrantRef64>("Handle")),
                     (Marshal.SizeOf<MapGrantRef32>(), Off<MapGrantRef32>("Status"), Off<MapGrantRef32>("Handle")),
                 })
        {
            Assert.Equal(GnttabMapGrantRef.Size, size);
            Assert.Equal(GnttabMapGrantRef.Status, status);
            Assert.Equal(GnttabMapGrantRef.Handle, handle);
        }
        Assert.Equal(GnttabMapGrantRef.Ref, Off<MapGrantRef64>("Ref"));
        Assert.Equal(GnttabMapGrantRef.Dom, Off<MapGrantRef64>("Dom"));
        Assert.Equal(GnttabMapGrantRef.DevBusAddr, Off<MapGrantRef32>("DevBusAddr"));
        Assert.Equal(GnttabUnmapGrantRef.Size, Marshal.SizeOf<UnmapGrantRef64>());
        Assert.Equal(GnttabUnmapGrantRef.Size, Marshal.SizeOf<UnmapGrantRef32>());
        Assert.Equal(GnttabUnmapGrantRef.Status, Off<UnmapGrantRef32>("Status"));
        Assert.Equal(GnttabUnmapGrantRef.Handle, Off<UnmapGrantRef64>("Handle"));
        Assert.Equal(GnttabQuerySize.Size, Marshal.SizeOf<QuerySize64>());
        Assert.Equal(GnttabQuerySize.Status, Off<QuerySize64>("Status"));
        Assert.Equal(GnttabSwapGrantRef.Size, Marshal.SizeOf<SwapGrantRef64>());
        Assert.Equal(GnttabSwapGrantRef.Status, Off<SwapGrantRef64>("Status"));
    }

    [Fact]
    public void Grant_entry_layouts()
    {
        Assert.Equal(GrantTableLayout.EntryV2Size, Marshal.SizeOf<EntryV2FullPage>());
        Assert.Equal(GrantTableLayout.EntryV2Frame, Off<EntryV2FullPage>("Frame"));
        Assert.Equal(GrantTableLayout.EntryV2PageOff, Off<EntryV2SubPage>("PageOff"));
        Assert.Equal(GrantTableLayout.EntryV2Length, Off<EntryV2SubPage>("Length"));
        Assert.Equal(GrantTableLayout.EntryV2Frame, Off<EntryV2SubPage>("Frame"));
        Assert.Equal(GrantTableLayout.EntryV2TransDomId, Off<EntryV2Transitive>("TransDomId"));
        Assert.Equal(GrantTableLayout.EntryV2TransGref, Off<EntryV2Transitive>("Gref"));
        Assert.Equal(512, GrantTableLayout.EntriesPerFrameV1);
        Assert.Equal(256, GrantTableLayout.EntriesPerFrameV2);
        Assert.Equal(2048, GrantTableLayout.StatusesPerFrame);
    }
}
