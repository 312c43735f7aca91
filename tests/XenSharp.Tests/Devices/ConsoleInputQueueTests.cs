using XenSharp.Devices.Console;

namespace XenSharp.Tests.Devices;

/// <summary>Input waiting for room in a guest's console ring: kept in order, bounded, oldest kept.</summary>
public class ConsoleInputQueueTests
{
    private static byte[] Drain(ConsoleInputQueue q)
    {
        var all = new List<byte>();
        while (q.Count > 0)
        {
            var piece = q.Peek();
            Assert.False(piece.IsEmpty);
            all.AddRange(piece.ToArray());
            q.Consume(piece.Length);
        }
        return all.ToArray();
    }

    [Fact]
    public void The_default_bound_is_64_KiB()
    {
        Assert.Equal(64 * 1024, new ConsoleInputQueue().Capacity);
        Assert.Equal(64 * 1024, ConsoleInputQueue.DefaultCapacity);
    }

    [Fact]
    public void Bytes_come_out_in_the_order_they_went_in_across_the_end_of_the_buffer()
    {
        var q = new ConsoleInputQueue(8);
        Assert.Equal(6, q.Enqueue("abcdef"u8));
        q.Consume(4);                              // "ef" left at offsets 4..5
        Assert.Equal(5, q.Enqueue("ghijk"u8));     // wraps: g h at 6..7, i j k at 0..2
        Assert.Equal(7, q.Count);
        Assert.Equal("efgh"u8.ToArray(), q.Peek().ToArray()); // one contiguous piece up to the end
        Assert.Equal("efghijk"u8.ToArray(), Drain(q));
    }

    [Fact]
    public void Over_the_bound_the_newest_bytes_are_refused_and_the_oldest_kept()
    {
        var q = new ConsoleInputQueue(8);
        Assert.Equal(5, q.Enqueue("12345"u8));
        Assert.Equal(3, q.Enqueue("6789"u8));  // only "678" fit
        Assert.Equal(0, q.Enqueue("x"u8));
        Assert.Equal(8, q.Count);
        Assert.Equal("12345678"u8.ToArray(), Drain(q));
        Assert.Equal(2, q.Enqueue("ab"u8));    // room again once consumed
        Assert.Equal("ab"u8.ToArray(), Drain(q));
    }

    [Fact]
    public void Consuming_more_than_is_waiting_is_refused()
    {
        var q = new ConsoleInputQueue(8);
        q.Enqueue("ab"u8);
        Assert.Throws<ArgumentOutOfRangeException>(() => q.Consume(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => q.Consume(-1));
        q.Clear();
        Assert.Equal(0, q.Count);
        Assert.True(q.Peek().IsEmpty);
    }

    [Fact]
    public void Many_rounds_of_random_sizes_keep_the_stream_intact()
    {
        var random = new Random(7);
        var q = new ConsoleInputQueue(100);
        var expected = new List<byte>();
        var got = new List<byte>();
        byte next = 0;
        for (int round = 0; round < 2000; round++)
        {
            var data = new byte[random.Next(0, 60)];
            for (int i = 0; i < data.Length; i++) data[i] = next++;
            int taken = q.Enqueue(data);
            Assert.Equal(Math.Min(data.Length, 100 - (expected.Count - got.Count)), taken);
            expected.AddRange(data[..taken]);
            next = (byte)(next - (data.Length - taken)); // refused bytes never happened
            int consume = Math.Min(q.Peek().Length, random.Next(0, 50));
            got.AddRange(q.Peek()[..consume].ToArray());
            q.Consume(consume);
        }
        got.AddRange(Drain(q));
        Assert.Equal(expected, got);
    }
}
