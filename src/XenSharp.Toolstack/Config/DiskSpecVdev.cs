using System.Globalization;

namespace XenSharp.Toolstack.Config;

/// <summary>
/// Virtual device names (xl.cfg <c>vdev</c>) to the number written to the frontend's
/// <c>virtual-device</c> node, as xen-vbd-interface(7) encodes them:
/// <code>
///   xvdX[N] / dDpP   202 &lt;&lt; 8 | disk &lt;&lt; 4 | partition      disks and partitions up to 15
///                    1 &lt;&lt; 28 | disk &lt;&lt; 8 | partition      disks from 16 (up to 2^20-1), partitions up to 255
///   sdX[N]           8 &lt;&lt; 8 | disk &lt;&lt; 4 | partition        disks and partitions up to 15
///   hdX[N]           3 &lt;&lt; 8 | disk &lt;&lt; 6 | partition        disks 0..1 (hda, hdb), partitions up to 63
///                    22 &lt;&lt; 8 | (disk-2) &lt;&lt; 6 | partition   disks 2..3 (hdc, hdd)
///   a number         written as it is (decimal, 0x hex or 0 octal), for old guests
/// </code>
/// Disk letters count like spreadsheet columns: a = 0 … z = 25, aa = 26, ab = 27, … (xvdtq = 536).
/// </summary>
public static class DiskSpecVdev
{
    public const string Accepted = "xvd<letters>[<partition>] (xvda, xvdb1), hd[a-d][<partition>], sd[a-p][<partition>], d<disk>[p<partition>] (d0, d1p2), or a device number";

    /// <summary>The virtual-device number of <paramref name="vdev"/>, or null when it is not a valid name.</summary>
    public static int? TryEncode(string vdev)
    {
        ArgumentNullException.ThrowIfNull(vdev);
        if (vdev.Length == 0) return null;
        if (char.IsAsciiDigit(vdev[0])) return TryNumber(vdev);
        if (vdev.StartsWith("xvd", StringComparison.Ordinal))
            return TryLettersAndPartition(vdev.AsSpan(3), out int disk, out int part) ? Xvd(disk, part) : null;
        if (vdev.StartsWith("sd", StringComparison.Ordinal))
            return TryLettersAndPartition(vdev.AsSpan(2), out int disk, out int part) && disk < 16 && part < 16 ? (8 << 8) | (disk << 4) | part : null;
        if (vdev.StartsWith("hd", StringComparison.Ordinal))
        {
            if (!TryLettersAndPartition(vdev.AsSpan(2), out int disk, out int part) || part > 63) return null;
            return disk switch
            {
                < 2 => (3 << 8) | (disk << 6) | part,
                < 4 => (22 << 8) | ((disk - 2) << 6) | part,
                _ => null,
            };
        }
        if (vdev[0] == 'd')
        {
            var rest = vdev.AsSpan(1);
            int p = rest.IndexOf('p');
            var diskText = p < 0 ? rest : rest[..p];
            var partText = p < 0 ? "0" : rest[(p + 1)..];
            if (!TryDecimal(diskText, out int disk) || !TryDecimal(partText, out int part)) return null;
            return Xvd(disk, part);
        }
        return null;
    }

    private static int? Xvd(int disk, int part)
    {
        if (disk < 16 && part < 16) return (202 << 8) | (disk << 4) | part;
        if (disk < (1 << 20) && part < 256) return (1 << 28) | (disk << 8) | part;
        return null;
    }

    private static bool TryLettersAndPartition(ReadOnlySpan<char> s, out int disk, out int part)
    {
        disk = -1;
        part = 0;
        int i = 0;
        long value = 0;
        while (i < s.Length && s[i] is >= 'a' and <= 'z')
        {
            value = value * 26 + (s[i] - 'a' + 1);
            if (value > (1 << 20)) return false;
            i++;
        }
        if (i == 0) return false;
        disk = (int)(value - 1);
        return i == s.Length || TryDecimal(s[i..], out part);
    }

    private static bool TryDecimal(ReadOnlySpan<char> s, out int value)
    {
        value = 0;
        if (s.IsEmpty || s.Length > 7 || (s.Length > 1 && s[0] == '0')) return false;
        return int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static int? TryNumber(string s)
    {
        long v;
        try
        {
            if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            {
                if (!long.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v)) return null;
            }
            else if (s.Length > 1 && s[0] == '0')
            {
                v = Convert.ToInt64(s[1..], 8);
            }
            else if (!long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v)) return null;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            return null;
        }
        return v is > 0 and <= int.MaxValue ? (int)v : null;
    }
}
