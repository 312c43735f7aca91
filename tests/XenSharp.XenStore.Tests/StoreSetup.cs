namespace XenSharp.XenStore.Tests;

/// <summary>
/// A store prepared as a toolstack would: /local/domain/N for domains 1 and 2, each owned by its
/// domain with no access for others, and a private node of domain 0.
/// </summary>
public static class StoreSetup
{
    public static Xenstored Create(XenStoreQuotas? quotas = null)
    {
        var store = new Xenstored(quotas);
        store.Mkdir("/local/domain/0");
        store.Write("/local/domain/0/secret", "dom0-only");
        foreach (int domid in new[] { 1, 2 })
        {
            string home = Xenstored.GetDomainPath(domid);
            store.Mkdir(home);
            store.SetPermissions(home, XenStorePermission.NoAccess(domid));
        }
        return store;
    }

    /// <summary>A snapshot of every node (path → value and permissions) for "unchanged" checks.</summary>
    public static SortedDictionary<string, string> Dump(Xenstored store)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        stack.Push("/");
        while (stack.Count > 0)
        {
            string path = stack.Pop();
            result[path] = store.Read(path) + " " + string.Join(",", store.GetPermissions(path));
            foreach (var child in store.Directory(path))
                stack.Push(path == "/" ? "/" + child : path + "/" + child);
        }
        foreach (var special in new[] { "@introduceDomain", "@releaseDomain" })
            result[special] = string.Join(",", store.GetPermissions(special));
        return result;
    }
}
