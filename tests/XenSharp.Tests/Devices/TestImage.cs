namespace XenSharp.Tests.Devices;

/// <summary>A temporary raw image file filled with a known pattern, deleted on dispose.</summary>
internal sealed class TestImage : IDisposable
{
    public TestImage(int sectors = 64)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"xensharp-test-{Guid.NewGuid():N}.img");
        Original = new byte[sectors * 512];
        for (int i = 0; i < Original.Length; i++) Original[i] = (byte)(i * 31 + (i >> 9));
        File.WriteAllBytes(Path, Original);
    }

    public string Path { get; }
    public byte[] Original { get; }
    public byte[] Bytes => File.ReadAllBytes(Path);

    public void Dispose()
    {
        try { File.Delete(Path); }
        catch (IOException) { }
    }
}
