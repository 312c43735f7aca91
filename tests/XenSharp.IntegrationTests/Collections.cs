namespace XenSharp.IntegrationTests;

// One collection (so one daemon, one state directory) per test class. Collections run one at
// a time (see AssemblyInfo.cs).

[CollectionDefinition(Name)]
public sealed class DemoCollection : ICollectionFixture<XenSharpHost> { public const string Name = "demo guest"; }

[CollectionDefinition(Name)]
public sealed class HypercallCollection : ICollectionFixture<XenSharpHost> { public const string Name = "hypercall-test guest"; }

[CollectionDefinition(Name)]
public sealed class CrashCollection : ICollectionFixture<XenSharpHost> { public const string Name = "crashing guests"; }

[CollectionDefinition(Name)]
public sealed class LifecycleCollection : ICollectionFixture<XenSharpHost> { public const string Name = "domain lifecycle"; }

[CollectionDefinition(Name)]
public sealed class BadInputCollection : ICollectionFixture<XenSharpHost> { public const string Name = "bad input"; }

[CollectionDefinition(Name)]
public sealed class HostCollection : ICollectionFixture<XenSharpHost> { public const string Name = "host commands"; }

[CollectionDefinition(Name)]
public sealed class XenStoreGuestCollection : ICollectionFixture<XenSharpHost> { public const string Name = "xenstore guest"; }

[CollectionDefinition(Name)]
public sealed class TrapCollection : ICollectionFixture<XenSharpHost> { public const string Name = "trap guests"; }

[CollectionDefinition(Name)]
public sealed class ConsoleCollection : ICollectionFixture<XenSharpHost> { public const string Name = "console-echo guest"; }

[CollectionDefinition(Name)]
public sealed class ArmGuestCollection : ICollectionFixture<XenSharpHost> { public const string Name = "AArch64 guests"; }
