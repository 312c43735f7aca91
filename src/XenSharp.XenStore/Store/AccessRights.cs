namespace XenSharp.XenStore;

/// <summary>
/// What a caller may do with a node after evaluating its permission list: the entry's read and
/// write bits, plus <see cref="Owner"/> for the owner, its target-holders and the control domain
/// (needed to change permissions).
/// </summary>
[Flags]
internal enum AccessRights
{
    None = 0,
    Read = 1,
    Write = 2,
    Owner = 4,
    All = Read | Write | Owner,
}
