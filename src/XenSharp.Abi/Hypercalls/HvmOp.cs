namespace XenSharp.Abi.Hypercalls;

/// <summary>hvm_op sub-commands (hvm/hvm_op.h).</summary>
public static class HvmOp
{
    /// <summary>struct xen_hvm_param { domid_t domid @0; u32 index @4; u64 value @8; } (16 bytes).</summary>
    public const int SetParam = 0;
    public const int GetParam = 1;
    public const int SetEvtchnUpcallVector = 23;
}

/// <summary>HVM_PARAM_* indices (hvm/params.h).</summary>
public static class HvmParam
{
    public const int CallbackIrq = 0;
    public const int StorePfn = 1;
    public const int StoreEvtchn = 2;
    public const int PaeEnabled = 4;
    public const int IoreqPfn = 5;
    public const int BufioreqPfn = 6;
    public const int Timer_mode = 10;
    public const int Hpet_enabled = 11;
    public const int IdentPt = 12;
    public const int AcpiSState = 14;
    public const int VM86Tss = 15;
    public const int VptAlign = 16;
    public const int ConsolePfn = 17;
    public const int ConsoleEvtchn = 18;
    /// <summary>HVM_NR_PARAMS: indices at or above are -EINVAL.</summary>
    public const int Count = 39;
}
