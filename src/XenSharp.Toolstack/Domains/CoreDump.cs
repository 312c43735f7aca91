using System.Buffers.Binary;
using System.Text;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Toolstack.Domains;

/// <summary>
/// A domain's core file (`xl dump-core`, on_crash = "coredump-destroy"/"coredump-restart"):
/// an ELF64 little-endian x86-64 ET_CORE file, XenSharp's own simple layout (not Xen's
/// xc_core section format, docs/misc/dump-core-format.txt):
/// <code>
///   ELF header (64 bytes), e_phnum = 1 + regions
///   program header 0:   PT_NOTE, the vCPU notes
///   program header 1..: PT_LOAD per guest memory region (GuestMemory.Regions, ascending):
///                       p_paddr = p_vaddr = guest-physical start, p_filesz = p_memsz = size,
///                       p_offset page aligned, p_flags RWX
///   notes, one per vCPU: name "XenSharp" (namesz 9), type 1 (<see cref="VcpuNoteType"/>), desc 192 bytes:
///     u32 vcpu index, u32 flags (bit 0: online), struct kvm_regs (rax rbx rcx rdx rsi rdi rsp rbp
///     r8..r15 rip rflags, 18 × u64), then cr0 cr2 cr3 cr4 efer (5 × u64)
/// </code>
/// Registers are those of the vCPU's last exit (the domain is paused or stopped while dumping).
/// </summary>
public static class CoreDump
{
    public const uint VcpuNoteType = 1;
    public const string NoteName = "XenSharp";
    public const int VcpuNoteDescSize = 8 + 144 + 40;
    private const int EhdrSize = 64, PhdrSize = 56;
    private const ulong Page = 4096;

    /// <summary>Writes <paramref name="d"/>'s core file to <paramref name="path"/>; returns its size in bytes.</summary>
    public static unsafe long Write(Domain d, string path)
    {
        if (d.Architecture != XenSharp.Hypervisor.GuestArchitecture.X86)
            throw new ToolstackException($"domain {d.Id} ({d.Name}) is an {d.Architecture} guest: XenSharp writes core dumps of x86 guests only");
        // Holding the memory keeps `xl destroy` from unmapping it while the file is written (its
        // Destroy waits); the registers are copied first, before a destroy could dispose the vCPUs.
        if (!d.TryEnterMemory()) throw new ToolstackException($"domain {d.Id} ({d.Name}) is being destroyed: no core dump");
        try
        {
            if (d.State is DomainState.Dying or DomainState.Destroyed)
                throw new ToolstackException($"domain {d.Id} ({d.Name}) is being destroyed: no core dump");
            var regions = d.Memory.Regions;
            int phnum = 1 + regions.Count;
            byte[] name = Encoding.ASCII.GetBytes(NoteName + "\0");
            int nameAligned = (name.Length + 3) & ~3;
            int noteSize = 12 + nameAligned + VcpuNoteDescSize;
            ulong notesOffset = (ulong)(EhdrSize + PhdrSize * phnum);
            ulong notesSize = (ulong)(noteSize * d.Vcpus.Count);
            ulong dataOffset = (notesOffset + notesSize + Page - 1) & ~(Page - 1);

            var head = new byte[dataOffset];
            var s = head.AsSpan();
            // ELF header
            s[0] = 0x7f; s[1] = (byte)'E'; s[2] = (byte)'L'; s[3] = (byte)'F';
            s[4] = 2; s[5] = 1; s[6] = 1; // ELFCLASS64, ELFDATA2LSB, EV_CURRENT; OSABI 0
            BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 4);   // ET_CORE
            BinaryPrimitives.WriteUInt16LittleEndian(s[18..], 62);  // EM_X86_64
            BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);   // e_version
            BinaryPrimitives.WriteUInt64LittleEndian(s[32..], EhdrSize); // e_phoff
            BinaryPrimitives.WriteUInt16LittleEndian(s[52..], EhdrSize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[54..], PhdrSize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[56..], (ushort)phnum);

            void Phdr(int i, uint type, uint flags, ulong offset, ulong addr, ulong size, ulong align)
            {
                var p = head.AsSpan(EhdrSize + i * PhdrSize, PhdrSize);
                BinaryPrimitives.WriteUInt32LittleEndian(p, type);
                BinaryPrimitives.WriteUInt32LittleEndian(p[4..], flags);
                BinaryPrimitives.WriteUInt64LittleEndian(p[8..], offset);
                BinaryPrimitives.WriteUInt64LittleEndian(p[16..], addr);
                BinaryPrimitives.WriteUInt64LittleEndian(p[24..], addr);
                BinaryPrimitives.WriteUInt64LittleEndian(p[32..], size);
                BinaryPrimitives.WriteUInt64LittleEndian(p[40..], size);
                BinaryPrimitives.WriteUInt64LittleEndian(p[48..], align);
            }
            Phdr(0, 4, 4, notesOffset, 0, notesSize, 4); // PT_NOTE, PF_R
            ulong offset = dataOffset;
            for (int i = 0; i < regions.Count; i++)
            {
                Phdr(1 + i, 1, 7, offset, regions[i].GuestPhysical, regions[i].Size, Page); // PT_LOAD, RWX
                offset += regions[i].Size;
            }

            // vCPU notes
            int at = (int)notesOffset;
            foreach (var v in d.Vcpus)
            {
                var n = s.Slice(at, noteSize);
                BinaryPrimitives.WriteUInt32LittleEndian(n, (uint)name.Length);
                BinaryPrimitives.WriteUInt32LittleEndian(n[4..], VcpuNoteDescSize);
                BinaryPrimitives.WriteUInt32LittleEndian(n[8..], VcpuNoteType);
                name.CopyTo(n[12..]);
                var desc = n[(12 + nameAligned)..];
                BinaryPrimitives.WriteUInt32LittleEndian(desc, (uint)v.Index);
                BinaryPrimitives.WriteUInt32LittleEndian(desc[4..], v.State != VcpuState.Offline ? 1u : 0u);
                var regs = v.Cpu.Registers;
                ulong[] gp = [regs.Rax, regs.Rbx, regs.Rcx, regs.Rdx, regs.Rsi, regs.Rdi, regs.Rsp, regs.Rbp,
                              regs.R8, regs.R9, regs.R10, regs.R11, regs.R12, regs.R13, regs.R14, regs.R15, regs.Rip, regs.Rflags];
                var sregs = v.Cpu.SpecialRegisters;
                ulong[] cr = [sregs.Cr0, sregs.Cr2, sregs.Cr3, sregs.Cr4, sregs.Efer];
                int o = 8;
                foreach (ulong value in gp.Concat(cr)) { BinaryPrimitives.WriteUInt64LittleEndian(desc[o..], value); o += 8; }
                at += noteSize;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            using var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16);
            f.Write(head);
            const int chunk = 1 << 20;
            foreach (var r in regions)
                for (ulong done = 0; done < r.Size; done += chunk)
                {
                    int len = (int)Math.Min(chunk, r.Size - done);
                    f.Write(new ReadOnlySpan<byte>((byte*)r.HostAddress + done, len));
                }
            return f.Length;
        }
        finally
        {
            d.ExitMemory();
        }
    }

    /// <summary>A new file name in <paramref name="directory"/>: NAME-YYYYMMDD-HHMMSS.core (with -N added if taken).</summary>
    public static string NewPath(string directory, string domainName)
    {
        string stem = Path.Combine(directory, $"{domainName}-{DateTime.Now:yyyyMMdd-HHmmss}");
        string path = stem + ".core";
        for (int i = 1; File.Exists(path); i++) path = $"{stem}-{i}.core";
        return path;
    }
}
