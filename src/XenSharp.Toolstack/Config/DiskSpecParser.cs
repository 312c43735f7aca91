namespace XenSharp.Toolstack.Config;

/// <summary>
/// Reads xl.cfg <c>disk</c> entries (xl-disk-configuration(5)):
/// <code>
///   [&lt;key&gt;=&lt;value&gt;|&lt;flag&gt;,]*[&lt;target&gt;,[&lt;format&gt;,[&lt;vdev&gt;,[&lt;access&gt;]]]],[&lt;key&gt;=&lt;value&gt;|&lt;flag&gt;,]*[target=&lt;target&gt;]
///   'format=raw, vdev=xvda, access=rw, target=/img'     '/img,raw,xvda,rw'     '/img,,xvda'
///   'file:/img,xvda,w'   'phy:/dev/vg/lv,xvdb,r'   'raw:/img,hdc:cdrom,ro'   (the deprecated form)
/// </code>
/// Comma-separated parameters, whitespace before each ignored; bare words without '=' fill the
/// positional target, format, vdev, access in order (an empty one keeps the default); each
/// parameter at most once; <c>target=</c> takes the rest of the entry, commas included. A
/// target with a deprecated prefix (file:, phy:, aio:, tap:, tap2:, tapdisk:, ioemu:, or a
/// format prefix raw:, qcow:, qcow2:, vhd:) switches to the deprecated positional order
/// target, vdev[:devtype], access. Flags: cdrom, discard, no-discard, direct-io-safe, trusted,
/// untrusted. Errors are <see cref="XlConfigException"/>s naming the file, line and entry and
/// what is accepted.
/// </summary>
public static class DiskSpecParser
{
    private static readonly string[] s_ignoredPrefixes = ["tapdisk", "tap2", "tap", "aio", "ioemu", "file", "phy"];
    private static readonly string[] s_formatPrefixes = ["raw", "qcow2", "qcow", "vhd", "qed"];
    private static readonly string[] s_scriptPrefixes = ["iscsi", "nbd", "enbd", "drbd"];
    private static readonly string[] s_backendTypes = ["phy", "qdisk", "tap"];
    private const string FormatAccepted = "XenSharp supports raw";

    /// <summary>Reads the <c>disk</c> setting: a list of DISKSPEC strings (duplicate vdevs are an error).</summary>
    public static IReadOnlyList<DiskSpec> ReadSetting(XlSetting setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        const string Accepted = "a list of disk specifications, e.g. [ 'format=raw, vdev=xvda, access=rw, target=/path/disk.img' ]";
        if (setting.Value is not XlList list)
            throw XlSettingReader.BadValue(setting, Accepted);
        var disks = new List<DiskSpec>(list.Count);
        foreach (var item in list.Items)
        {
            int line = item.Line > 0 ? item.Line : setting.Line;
            string location = XlConfigException.FormatLocation(setting.File, line, setting.Override);
            int? fileLine = setting.Override is null ? line : null;
            if (item.ScalarText is not { } text)
                throw Error(fileLine, location, XlSettingReader.Show(item), "is not a string: " + Accepted);
            var disk = Parse(text, location, fileLine);
            if (disks.FirstOrDefault(d => d.VirtualDevice == disk.VirtualDevice) is { } other)
                throw Error(fileLine, location, text, $"vdev {disk.Vdev} is the same device as '{other.Text}' (each disk needs its own vdev)");
            disks.Add(disk);
        }
        return disks;
    }

    /// <summary>Parses one DISKSPEC found at <paramref name="location"/>.</summary>
    public static DiskSpec Parse(string text, string location, int? line = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        string? target = null, format = null, vdev = null, access = null, devtype = null, backendtype = null;
        bool? discard = null, trusted = null;
        bool directIo = false;
        bool deprecated = false;
        int positional = 0; // next positional slot: 0 target, 1 format, 2 vdev, 3 access
        var seen = new HashSet<string>(StringComparer.Ordinal);

        void Set(ref string? slot, string name, string value)
        {
            if (!seen.Add(name)) throw Error(line, location, text, $"{name} is given twice (each parameter at most once)");
            slot = value.Length == 0 ? null : value;
        }
        void Flag(ref bool? slot, string name, bool value)
        {
            if (slot is not null) throw Error(line, location, text, $"{name} is given twice or contradicts an earlier flag");
            slot = value;
        }

        int pos = 0;
        while (pos <= text.Length)
        {
            while (pos < text.Length && char.IsWhiteSpace(text[pos])) pos++;
            if (string.CompareOrdinal(text, pos, "target=", 0, 7) == 0)
            {
                if (seen.Contains("target") && target is not null)
                    throw Error(line, location, text, "target is given twice (each parameter at most once)");
                seen.Add("target");
                target = text[(pos + 7)..];
                break;
            }
            int comma = text.IndexOf(',', pos);
            string token = (comma < 0 ? text[pos..] : text[pos..comma]).TrimEnd();
            pos = comma < 0 ? text.Length + 1 : comma + 1;
            if (comma < 0 && token.Length == 0 && positional == 0 && seen.Count > 0) break; // trailing comma

            int eq = token.IndexOf('=');
            if (eq > 0 && IsKeyword(token.AsSpan(0, eq)))
            {
                string key = token[..eq], value = token[(eq + 1)..].Trim();
                switch (key)
                {
                    case "format": Set(ref format, key, value); break;
                    case "vdev": Set(ref vdev, key, value); break;
                    case "access": Set(ref access, key, value); break;
                    case "devtype": Set(ref devtype, key, value); break;
                    case "backendtype": Set(ref backendtype, key, value); break;
                    case "backend":
                        if (value is not ("" or "0" or "Domain-0"))
                            throw Error(line, location, text, $"backend={value}: driver domains are not supported (XenSharp serves disks itself: leave backend out, or 0 / Domain-0)");
                        break;
                    case "script":
                        throw Error(line, location, text, $"script={value}: block scripts are not supported (give an image file as target)");
                    case "specification":
                        if (value is not ("" or "xen"))
                            throw Error(line, location, text, $"specification={value} is not supported (accepted: xen)");
                        break;
                    case "colo-host" or "colo-port" or "colo-export" or "active-disk" or "hidden-disk":
                        throw Error(line, location, text, $"{key}: COLO is not supported");
                    case "grant_usage":
                        throw Error(line, location, text, "grant_usage applies to specification=virtio, which is not supported");
                    default:
                        throw Error(line, location, text, $"unknown parameter {key} (accepted: target, format, vdev, access, devtype, backendtype, backend; flags cdrom, discard, no-discard, direct-io-safe, trusted, untrusted)");
                }
                continue;
            }
            switch (token)
            {
                case "cdrom": Set(ref devtype, "devtype", "cdrom"); continue;
                case "discard": Flag(ref discard, token, true); continue;
                case "no-discard": Flag(ref discard, token, false); continue;
                case "trusted": Flag(ref trusted, token, true); continue;
                case "untrusted": Flag(ref trusted, token, false); continue;
                case "direct-io-safe": directIo = true; continue;
                case "colo": throw Error(line, location, text, "colo: COLO is not supported");
            }

            // A positional parameter.
            if (positional == 0)
            {
                string t = token;
                while (TryStripPrefix(ref t, out string prefix))
                {
                    deprecated = true;
                    if (s_scriptPrefixes.Contains(prefix))
                        throw Error(line, location, text, $"{prefix}: block scripts are not supported (give an image file as target)");
                    if (s_formatPrefixes.Contains(prefix)) Set(ref format, "format", prefix);
                }
                Set(ref target, "target", t);
                positional = deprecated ? 2 : 1;
            }
            else if (positional == 1)
            {
                Set(ref format, "format", token);
                positional = 2;
            }
            else if (positional == 2)
            {
                string v = token;
                int colon = v.IndexOf(':');
                if (colon >= 0)
                {
                    Set(ref devtype, "devtype", v[(colon + 1)..]);
                    v = v[..colon];
                }
                Set(ref vdev, "vdev", v);
                positional = 3;
            }
            else if (positional == 3)
            {
                Set(ref access, "access", token);
                positional = 4;
            }
            else if (token.Length == 0) continue;
            else throw Error(line, location, text, $"'{token}': too many positional parameters (target, format, vdev, access)");
        }

        // Values.
        format ??= "raw";
        if (format != "raw")
            throw Error(line, location, text, $"unknown format {format}: {FormatAccepted}");
        var type = devtype switch
        {
            null or "disk" => DiskDeviceType.Disk,
            "cdrom" => DiskDeviceType.Cdrom,
            _ => throw Error(line, location, text, $"unknown devtype {devtype} (accepted: disk, cdrom)"),
        };
        bool readOnly = access switch
        {
            null => type == DiskDeviceType.Cdrom,
            "ro" or "r" => true,
            "rw" or "w" => false,
            _ => throw Error(line, location, text, $"unknown access {access} (accepted: ro, r, rw, w)"),
        };
        if (type == DiskDeviceType.Cdrom && !readOnly)
            throw Error(line, location, text, "a cdrom is read-only (access=ro, or leave access out)");
        if (backendtype is not null && !s_backendTypes.Contains(backendtype))
            throw Error(line, location, text, $"unknown backendtype {backendtype} (accepted: {string.Join(", ", s_backendTypes)})");
        if (vdev is null)
            throw Error(line, location, text, $"vdev is missing (accepted: {DiskSpecVdev.Accepted})");
        if (DiskSpecVdev.TryEncode(vdev) is not { } number)
            throw Error(line, location, text, $"unknown vdev {vdev} (accepted: {DiskSpecVdev.Accepted})");
        if (string.IsNullOrEmpty(target))
            throw Error(line, location, text, type == DiskDeviceType.Cdrom
                ? "target is missing: an empty cdrom drive is not supported (give an image file)"
                : "target is missing (the path of a raw image file)");

        return new DiskSpec
        {
            Text = text,
            Location = location,
            Target = target,
            Format = format,
            Vdev = vdev,
            VirtualDevice = number,
            ReadOnly = readOnly,
            DeviceType = type,
            BackendType = backendtype,
            Discard = discard ?? true,
            DirectIoSafe = directIo,
            Trusted = trusted ?? true,
        };
    }

    private static bool IsKeyword(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty || !char.IsAsciiLetter(s[0])) return false;
        foreach (char c in s)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')) return false;
        return true;
    }

    /// <summary>Strips one known "prefix:" from the front of a positional target.</summary>
    private static bool TryStripPrefix(ref string target, out string prefix)
    {
        prefix = "";
        int colon = target.IndexOf(':');
        if (colon <= 0) return false;
        string word = target[..colon];
        if (!s_ignoredPrefixes.Contains(word) && !s_formatPrefixes.Contains(word) && !s_scriptPrefixes.Contains(word)) return false;
        prefix = word;
        target = target[(colon + 1)..];
        return true;
    }

    private static XlConfigException Error(int? line, string location, string text, string what) =>
        new($"{location}: disk: '{XlString.Escape(text)}': {what}")
        {
            Location = location,
            Key = "disk",
            Line = line,
        };
}
