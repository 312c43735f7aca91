using XenSharp.Scheduling.Pools;
using XenSharp.Scheduling.Simulation;
using Xunit.Abstractions;

namespace XenSharp.Scheduling.Tests;

public class CpuPoolTests(ITestOutputHelper output)
{
    private const long Ms = 1_000_000;

    /// <summary>A pool set with pCPUs 0..n-1 online (all in Pool-0).</summary>
    private static CpuPoolSet NewSet(int pcpus, string pool0Scheduler = "credit")
    {
        var set = new CpuPoolSet(pool0Scheduler);
        var t = CpuMask.None;
        for (int p = 0; p < pcpus; p++) set.AddPcpu(p, 0, ref t);
        return set;
    }

    /// <summary>Inserts a domain with <paramref name="vcpus"/> offline vCPUs into the set.</summary>
    private static SchedDomain AddDomain(CpuPoolSet set, int id, string pool = CpuPoolSet.Pool0Name, int vcpus = 1, CpuMask? hard = null)
    {
        var d = new SchedDomain(id, $"dom{id}", pool);
        var t = CpuMask.None;
        for (int i = 0; i < vcpus; i++)
        {
            var v = new SchedVcpu(d, i);
            if (hard is { } h) v.SetAffinityMasks(h, CpuMask.All);
            set.InsertVcpu(v, 0, ref t);
        }
        return d;
    }

    private static string Error(Action a) => Assert.Throws<CpuPoolException>(a).Message;

    [Fact]
    public void Pool0OwnsEveryPcpuAtStartAndListsLikeXl()
    {
        var set = NewSet(8);
        AddDomain(set, 0);
        AddDomain(set, 1);
        var rows = set.List();
        var row = Assert.Single(rows);
        Assert.Equal(new CpuPoolInfo("Pool-0", 0, 8, "credit", true, 2, CpuMask.Range(0, 7)), row);
        Assert.True(set.FreeCpus.IsEmpty);
        string text = set.FormatList();
        output.WriteLine(text);
        Assert.Equal("Name               CPUs   Sched     Active   Domain count\nPool-0                8    credit       y          2\n", text.Replace("\r", ""));
        Assert.Equal("Name               CPU list\nPool-0             0-7\n", set.FormatList(cpus: true).Replace("\r", ""));
    }

    [Fact]
    public void CreateCpuAddCpuRemoveDestroy()
    {
        var set = NewSet(8);
        set.CpuRemove("Pool-0", CpuMask.Parse("4-7"), 0);
        Assert.Equal("4-7", set.FreeCpus.ToString());
        Assert.Equal("0-3", set.Pool0.Cpus.ToString());
        var p = set.Create("rt", "null", CpuMask.Parse("4-5"), 0);
        Assert.Equal(1, p.Id);
        Assert.Equal("null", p.Scheduler);
        Assert.IsType<NullScheduler>(p.Policy);
        Assert.Equal("6-7", set.FreeCpus.ToString());
        Assert.Same(p, set.PoolOfCpu(5));
        Assert.Null(set.PoolOfCpu(6));
        set.CpuAdd("rt", CpuMask.Parse("6"), 0);
        Assert.Equal("4-6", set["rt"].Cpus.ToString());
        var empty = set.Create("empty", "credit", CpuMask.None, 0);
        Assert.Equal(2, empty.Id);
        Assert.Equal(
            [("Pool-0", 4, "credit", 0), ("rt", 3, "null", 0), ("empty", 0, "credit", 0)],
            set.List().Select(r => (r.Name, r.CpuCount, r.Sched, r.DomainCount)));
        set.CpuRemove("rt", CpuMask.Parse("4"), 0);
        Assert.Equal("4,7", set.FreeCpus.ToString());
        set.Destroy("rt", 0);
        Assert.Equal("4-7", set.FreeCpus.ToString());
        Assert.False(set.TryGetPool("rt", out _));
        set.Destroy("empty", 0);
        set.CpuAdd("Pool-0", CpuMask.Parse("4-7"), 0);
        Assert.Equal(8, set.Pool0.Cpus.Count);
        // Ids are not reused (as Xen's poolids).
        Assert.Equal(3, set.Create("again", "credit", CpuMask.None, 0).Id);
    }

    [Fact]
    public void EveryErrorSaysWhatIsWrong()
    {
        var set = NewSet(8);
        AddDomain(set, 0);
        set.CpuRemove("Pool-0", CpuMask.Parse("4-7"), 0);
        set.Create("p1", "credit", CpuMask.Parse("4-5"), 0);
        var inP1 = AddDomain(set, 1, "p1", vcpus: 2);
        var t = CpuMask.None;

        var errors = new List<string>
        {
            Error(() => set.Create("p1", "credit", CpuMask.None, 0)),
            Error(() => set.Create(" ", "credit", CpuMask.None, 0)),
            Error(() => set.Create("x", "bfs", CpuMask.None, 0)),
            Error(() => set.Create("x", "credit", CpuMask.Parse("3"), 0)),
            Error(() => set.Create("x", "credit", CpuMask.Parse("9"), 0)),
            Error(() => set.CpuAdd("nope", CpuMask.Parse("6"), 0)),
            Error(() => set.CpuAdd("p1", CpuMask.Parse("4"), 0)),
            Error(() => set.CpuAdd("p1", CpuMask.Parse("1"), 0)),
            Error(() => set.CpuAdd("p1", CpuMask.None, 0)),
            Error(() => set.CpuRemove("p1", CpuMask.Parse("6"), 0)),
            Error(() => set.CpuRemove("Pool-0", CpuMask.Parse("0"), 0)),
            Error(() => set.Destroy("Pool-0", 0)),
            Error(() => set.Destroy("p1", 0)),
            Error(() => set.Destroy("nope", 0)),
            Error(() => set.MoveDomain(inP1, "nope", 0)),
            Error(() => set.MoveDomain(set.Pool0.Domains[0], "p1", 0)),
        };
        set.Create("empty", "credit", CpuMask.None, 0);
        errors.Add(Error(() => set.MoveDomain(inP1, "empty", 0)));
        errors.Add(Error(() => AddDomain(set, 7, "empty")));
        errors.Add(Error(() => AddDomain(set, 8, "missing")));
        errors.Add(Error(() => AddDomain(set, 9, "p1", hard: CpuMask.Parse("0-3"))));
        var pinned = AddDomain(set, 2, hard: CpuMask.Parse("1-2"));
        errors.Add(Error(() => set.MoveDomain(pinned, "p1", 0)));
        errors.Add(Error(() => set.SetAffinity(inP1.Vcpus[0], CpuMask.Parse("0"), CpuMask.All, 0, ref t)));
        set.CpuRemove("p1", CpuMask.Parse("5"), 0);
        errors.Add(Error(() => set.CpuRemove("p1", CpuMask.Parse("4"), 0)));
        foreach (var e in errors) output.WriteLine(e);

        string[] expected =
        [
            "cpupool \"p1\" already exists",
            "cpupool name \" \" is not valid",
            "unknown scheduler \"bfs\"; available: credit, credit2, null",
            "pCPU 3 is busy: it belongs to cpupool \"Pool-0\"; cpupool-cpu-remove it there before adding it to \"x\"",
            "pCPU 9 is not online (online pCPUs: 0-7)",
            "cpupool \"nope\" does not exist (known: Pool-0, p1)",
            "pCPU 4 is already in cpupool \"p1\"",
            "pCPU 1 is busy: it belongs to cpupool \"Pool-0\"",
            "cpupool-cpu-add \"p1\": no pCPU given",
            "pCPU 6 is not in cpupool \"p1\" (its pCPUs: 4-5)",
            "pCPU 0 cannot be removed from Pool-0",
            "cpupool \"Pool-0\" cannot be destroyed",
            "cpupool \"p1\" cannot be destroyed: it has 1 domain(s) (d1(dom1)); cpupool-migrate or destroy them first",
            "cpupool \"nope\" does not exist",
            "cpupool \"nope\" does not exist",
            "Domain-0 (d0(dom0)) can't be moved to another cpupool",
            "cannot move d1(dom1) to cpupool \"empty\": the pool has no pCPUs",
            "cannot add d7(dom7) to cpupool \"empty\": the pool has no pCPUs",
            "d8(dom8) names cpupool \"missing\", which does not exist",
            "d9v0's hard affinity 0-3 names no pCPU of its cpupool \"p1\" (4-5)",
            "cannot move d2(dom2) to cpupool \"p1\": d2v0's hard affinity 1-2 names no pCPU of that pool (4-5); change its affinity first",
            "hard affinity 0 for d1v0 names no pCPU of its cpupool \"p1\" (4-5)",
            "cannot remove pCPU 4 from cpupool \"p1\": it is the last pCPU of a pool with 1 domain(s) (d1(dom1)); cpupool-migrate them first",
        ];
        Assert.Equal(expected.Length, errors.Count);
        for (int i = 0; i < expected.Length; i++) Assert.Contains(expected[i], errors[i]);
        // Nothing changed by the refused operations.
        Assert.Equal("0-3", set.Pool0.Cpus.ToString());
        Assert.Equal("4", set["p1"].Cpus.ToString());
        Assert.Same(set["p1"], set.PoolOf(inP1));
        Assert.Equal("p1", inP1.Pool);
    }

    [Fact]
    public void CpuRemoveAsksThePolicyWhichPcpusAVcpuMustKeep()
    {
        var set = NewSet(4, pool0Scheduler: "null");
        var pinned = AddDomain(set, 1, hard: CpuMask.Parse("2"));
        var t = CpuMask.None;
        pinned.Vcpus[0].SetState(VcpuRunstate.Runnable, 0);
        set.Wake(pinned.Vcpus[0], 0, ref t);
        Assert.Equal(2, ((NullScheduler)set.Pool0.Policy).AssignedPcpu(pinned.Vcpus[0]));
        string e = Error(() => set.CpuRemove("Pool-0", CpuMask.Parse("2"), 0));
        output.WriteLine(e);
        Assert.Contains("cannot remove pCPU 2 from cpupool \"Pool-0\": the null scheduler has a vCPU that must keep it", e);
        set.CpuRemove("Pool-0", CpuMask.Parse("3"), 0); // nobody needs pCPU 3
        Assert.Equal("3", set.FreeCpus.ToString());
    }

    [Fact]
    public void SchedulerFactoryMakesCreditCredit2AndNull()
    {
        Assert.IsType<CreditScheduler>(SchedulerFactory.Create("credit"));
        Assert.IsType<Credit2Scheduler>(SchedulerFactory.Create("credit2"));
        Assert.IsType<NullScheduler>(SchedulerFactory.Create("null"));
        Assert.NotSame(SchedulerFactory.Create("credit"), SchedulerFactory.Create("credit"));
        Assert.Equal(["credit", "credit2", "null"], SchedulerFactory.AvailableNames.Order());
        var set = NewSet(4);
        set.CpuRemove("Pool-0", CpuMask.Parse("2-3"), 0);
        var p = set.Create("c2", "credit2", CpuMask.Parse("2-3"), 0);
        Assert.Equal("credit2", p.Scheduler);
        Assert.IsType<Credit2Scheduler>(p.Policy);
        var custom = new CpuPoolSet("null", name => name == "toy" ? new ToyPolicy() : SchedulerFactory.Create(name));
        Assert.IsType<NullScheduler>(custom.Pool0.Policy);
        Assert.Equal("toy-None", custom.Create("t", "toy", CpuMask.None, 0).Scheduler);
    }

    [Fact]
    public void MigrationKeepsWeightCapAndAffinity()
    {
        var set = NewSet(8);
        AddDomain(set, 0);
        set.CpuRemove("Pool-0", CpuMask.Parse("4-7"), 0);
        set.Create("p1", "null", CpuMask.Parse("4-7"), 0);
        var d = new SchedDomain(3, "web") { Weight = 512 };
        var v0 = new SchedVcpu(d, 0);
        var v1 = new SchedVcpu(d, 1);
        d.Cap = 150;
        v0.SetAffinityMasks(CpuMask.Parse("1,5"), CpuMask.Parse("5"));
        v1.SetAffinityMasks(CpuMask.Parse("2-6"), CpuMask.All);
        var t = CpuMask.None;
        set.InsertVcpu(v0, 0, ref t);
        set.InsertVcpu(v1, 0, ref t);
        Assert.Same(set.Pool0, set.PoolOf(d));
        Assert.Equal([2, 0], set.List().Select(r => r.DomainCount));

        set.MoveDomain(d, "p1", 0);
        Assert.Equal("p1", d.Pool);
        Assert.Same(set["p1"], set.PoolOf(d));
        Assert.Equal((512, 150), (d.Weight, d.Cap));
        Assert.Equal(("1,5", "5"), (v0.HardAffinity.ToString(), v0.SoftAffinity.ToString()));
        Assert.Equal("2-6", v1.HardAffinity.ToString());
        Assert.IsNotType<CreditScheduler>(set["p1"].Policy);
        Assert.Equal([1, 1], set.List().Select(r => r.DomainCount));

        set.MoveDomain(d, "Pool-0", 0);
        Assert.Equal((512, 150), (d.Weight, d.Cap));
        Assert.Equal("1,5", v0.HardAffinity.ToString());
        Assert.Equal([2, 0], set.List().Select(r => r.DomainCount));
        set.MoveDomain(d, "Pool-0", 0); // same pool: nothing to do
        var credit = (CreditScheduler)set.Pool0.Policy;
        Assert.Equal(CreditPriority.Under, credit.Priority(v0));
    }

    [Fact]
    public void MovingARunningDomainIsRefused()
    {
        var pools = new CpuPoolSet("credit");
        var sim = new Simulator(pools, pcpus: 4);
        sim.AddDomain("Domain-0");
        var d = sim.AddDomain("guest");
        var v = sim.AddVcpu(d, Workload.CpuBound);
        sim.Run(TimeSpan.FromMilliseconds(5));
        pools.CpuRemove("Pool-0", CpuMask.Parse("3"), sim.Now);
        pools.Create("p1", "credit", CpuMask.Parse("3"), sim.Now);
        Assert.True(v.Processor >= 0);
        string e = Error(() => pools.MoveDomain(d, "p1", sim.Now));
        output.WriteLine(e);
        Assert.Contains($"cannot move d1(guest) to cpupool \"p1\" now: d1v0 is running on pCPU {v.Processor}; pause the domain", e);
    }

    /// <summary>Two pools side by side in the simulator — credit (or credit2) on 0-3, null on 4-7 — with a pCPU
    /// moving between them under load and a domain migrating: every decision runs a vCPU on a pCPU
    /// of its own pool.</summary>
    [Theory]
    [InlineData("credit")]
    [InlineData("credit2")]
    public void VcpusOnlyEverRunOnTheirPoolsPcpusInTheSimulator(string pool0Scheduler)
    {
        var pools = new CpuPoolSet(pool0Scheduler);
        var sim = new Simulator(pools, pcpus: 8, seed: 11);
        pools.CpuRemove("Pool-0", CpuMask.Parse("4-7"), sim.Now);
        pools.Create("rt", "null", CpuMask.Parse("4-7"), sim.Now);
        sim.AddDomain("Domain-0");
        var web = new List<SchedVcpu>();
        for (int i = 0; i < 3; i++)
        {
            var d = sim.AddDomain($"web{i}", weight: 256 * (i + 1));
            for (int k = 0; k < 3; k++) web.Add(sim.AddVcpu(d, k == 0 ? Workload.CpuBound : Workload.Random(500_000, 1_000_000)));
        }
        var rtDom = sim.AddDomain("rt0");
        rtDom.Pool = "rt";
        var rt = Enumerable.Range(0, 3).Select(_ => sim.AddVcpu(rtDom, Workload.Random(300_000, 200_000))).ToList();
        var mover = sim.AddDomain("mover", weight: 512);
        var mv = sim.AddVcpu(mover, Workload.CpuBound);

        long decisions = 0, checkedRuns = 0;
        var ranOn = new Dictionary<string, CpuMask>();
        sim.Decided += dec =>
        {
            decisions++;
            if (dec.Next is not { } n) return;
            checkedRuns++;
            var pool = pools.PoolOf(n.Domain)!;
            Assert.Same(pool, pools.PoolOfCpu(dec.Pcpu));
            Assert.True(pool.Cpus.Contains(dec.Pcpu));
            var key = $"{n.Domain.Name}@{pool.Name}";
            var m = ranOn.GetValueOrDefault(key);
            m.Set(dec.Pcpu);
            ranOn[key] = m;
        };
        // At 1 s: pCPU 3 (busy with credit work) moves from Pool-0 to rt.
        sim.At(TimeSpan.FromSeconds(1), s =>
        {
            pools.CpuRemove("Pool-0", CpuMask.Parse("3"), s.Now);
            pools.CpuAdd("rt", CpuMask.Parse("3"), s.Now);
        });
        // At 2 s: "mover" is paused, migrated to rt, unpaused.
        sim.At(TimeSpan.FromSeconds(2), s =>
        {
            s.SetOnline(mv, false);
            pools.MoveDomain(mover, "rt", s.Now);
            s.SetOnline(mv, true);
        });
        var r = sim.Run(TimeSpan.FromSeconds(3));
        foreach (var (k, m) in ranOn.OrderBy(x => x.Key)) output.WriteLine($"{k,-16} ran on {m}");
        output.WriteLine($"{decisions} decisions, {checkedRuns} runs checked");
        output.WriteLine(pools.FormatList());
        Assert.Equal("0-2", pools.Pool0.Cpus.ToString());
        Assert.Equal("3-7", pools["rt"].Cpus.ToString());
        Assert.True(ranOn["rt0@rt"].IsSubsetOf(CpuMask.Parse("3-7")));
        Assert.True(ranOn["mover@Pool-0"].IsSubsetOf(CpuMask.Parse("0-3")));
        Assert.True(ranOn["mover@rt"].IsSubsetOf(CpuMask.Parse("3-7")));
        Assert.True(ranOn["web0@Pool-0"].Contains(3)); // pCPU 3 served Pool-0 before it moved
        Assert.True(r.Vcpu(mv).CpuNs > 1_500 * Ms, $"mover ran {r.Vcpu(mv).CpuNs} ns");
        // Domain-0 has no vCPUs here, so it is in no pool's count.
        Assert.Equal([("Pool-0", 3, 3), ("rt", 5, 2)], pools.List().Select(x => (x.Name, x.CpuCount, x.DomainCount)));
        foreach (var v in web.Concat(rt)) Assert.True(r.Vcpu(v).CpuNs > 0);
    }

    [Fact]
    public void PoolsHaveIndependentPolicyInstancesAndTimers()
    {
        var pools = new CpuPoolSet("credit");
        var sim = new Simulator(pools, pcpus: 2);
        pools.CpuRemove("Pool-0", CpuMask.Parse("1"), sim.Now);
        var p1 = pools.Create("p1", "credit", CpuMask.Parse("1"), sim.Now);
        ((CreditScheduler)p1.Policy).SetParameters(tsliceMs: 10, ratelimitUs: 1000);
        sim.AddDomain("Domain-0");
        var a = sim.AddVcpu(sim.AddDomain("a0"), Workload.CpuBound);
        sim.AddVcpu(sim.AddDomain("a1"), Workload.CpuBound);
        var db = sim.AddDomain("b0");
        db.Pool = "p1";
        var b = sim.AddVcpu(db, Workload.CpuBound);
        var db1 = sim.AddDomain("b1", weight: 768);
        db1.Pool = "p1";
        var b1 = sim.AddVcpu(db1, Workload.CpuBound);
        long maxSlice0 = 0, maxSlice1 = 0;
        sim.Decided += dec =>
        {
            if (dec.Next == null) return;
            if (dec.Pcpu == 0) maxSlice0 = Math.Max(maxSlice0, dec.SliceNs);
            else maxSlice1 = Math.Max(maxSlice1, dec.SliceNs);
        };
        var r = sim.Run(TimeSpan.FromSeconds(10));
        double ratio = (double)r.Vcpu(b1).CpuNs / r.Vcpu(b).CpuNs;
        output.WriteLine($"Pool-0: slices {maxSlice0 / Ms} ms, a runs {r.Vcpu(a).Runs}; p1: slices {maxSlice1 / Ms} ms, weights 256:768 -> {ratio:F3}");
        Assert.Equal(30 * Ms, maxSlice0);
        Assert.Equal(10 * Ms, maxSlice1);
        Assert.Equal(30, ((CreditScheduler)pools.Pool0.Policy).TsliceMs);
        Assert.InRange(r.Vcpu(a).UtilizationPercent, 48, 52);
        Assert.InRange(ratio, 2.8, 3.2);
    }
}
