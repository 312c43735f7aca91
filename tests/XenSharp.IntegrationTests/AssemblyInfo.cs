// The tests boot real guests under KVM through one daemon per test collection. The machine
// they run on may have only a couple of cores and guest kernel code can be slow, so the test
// collections run one after another, never against KVM at the same time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
