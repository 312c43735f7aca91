namespace XenSharp.XenStore;

/// <summary>
/// Who performs an operation: the domain, the domain it acts for (SET_TARGET), and the quotas in
/// force for it. Domain 0 is the privileged control domain: it passes every permission check and
/// no quota applies to it.
/// </summary>
internal readonly record struct CallerContext(int DomainId, int? TargetDomainId, XenStoreQuotas Quotas)
{
    /// <summary>The control domain.</summary>
    public const int PrivilegedDomainId = 0;

    public bool Privileged => DomainId == PrivilegedDomainId;

    /// <summary>A quota value as it applies to this caller (0, i.e. unlimited, when privileged).</summary>
    public int Limit(int quotaValue) => Privileged ? 0 : quotaValue;

    /// <summary>
    /// xenstored's quota test: an amount reaching the quota exceeds it (<c>val &gt;= quota</c>);
    /// a quota of 0 disables the check.
    /// </summary>
    public bool Exceeds(int quotaValue, long amount)
    {
        int limit = Limit(quotaValue);
        return limit > 0 && amount >= limit;
    }
}
