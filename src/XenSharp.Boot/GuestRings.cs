using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Boot;

/// <summary>
/// The two rings every domain starts with, as libxl sets them up on x86 and ARM alike: the PV
/// console and the XenStore ring, each on a page the builder chose and cleared, each with an
/// event channel bound to the host side, published in the HVM parameters the guest reads
/// (HVM_PARAM_CONSOLE_PFN/EVTCHN, HVM_PARAM_STORE_PFN/EVTCHN).
/// </summary>
public static class GuestRings
{
    /// <returns>The guest's console and XenStore ports.</returns>
    public static (int ConsolePort, int StorePort) Publish(Domain domain, ulong consoleRing, ulong storeRing, Action consoleKick, Action storeKick)
    {
        int consolePort = domain.EventChannels.BindToHost(consoleKick);
        int storePort = domain.EventChannels.BindToHost(storeKick);
        domain.SetHvmParam(HvmParam.ConsolePfn, consoleRing >> 12);
        domain.SetHvmParam(HvmParam.ConsoleEvtchn, (ulong)consolePort);
        domain.SetHvmParam(HvmParam.StorePfn, storeRing >> 12);
        domain.SetHvmParam(HvmParam.StoreEvtchn, (ulong)storePort);
        return (consolePort, storePort);
    }
}
