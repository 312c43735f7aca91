namespace XenSharp.XenStore.Tests;

public class ConcurrencyTests
{
    [Fact]
    public async Task ConnectionsOnManyThreadsKeepTheStoreConsistent()
    {
        var store = StoreSetup.Create(new XenStoreQuotas { Nodes = 0 });
        var watcher = new TestClient(store, 0);
        Expect.Ok(watcher.Watch("/local/domain", "all"));
        watcher.TakeEvents();

        const int perThread = 200;
        var tasks = Enumerable.Range(1, 2).SelectMany(domid => Enumerable.Range(0, 2).Select(n => Task.Run(() =>
        {
            var client = new TestClient(store, domid);
            for (int i = 0; i < perThread; i++)
            {
                Expect.Ok(client.Write($"t{n}/k{i % 10}", i.ToString()));
                while (true)
                {
                    uint tx = client.StartTransaction();
                    var read = client.Read($"t{n}/counter", tx);
                    int value = read.IsError ? 0 : int.Parse(read.Text);
                    Expect.Ok(client.Write($"t{n}/counter", (value + 1).ToString(), tx));
                    var end = client.EndTransaction(tx, commit: true);
                    if (!end.IsError) break;
                    Expect.Error("EAGAIN", end);
                }
            }
        }))).ToArray();
        await Task.WhenAll(tasks);

        foreach (int domid in new[] { 1, 2 })
            for (int n = 0; n < 2; n++)
                Assert.Equal(perThread.ToString(), store.Read($"/local/domain/{domid}/t{n}/counter"));
        Assert.Empty(store.CheckInvariants());
        Assert.True(watcher.Events.Count >= 4 * perThread * 2);
    }
}
