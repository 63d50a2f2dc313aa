using System;
using System.IO;
using System.Linq;
using System.Xml.Linq;
using Kiln.Tests.Support;

namespace Kiln.Tests.Packaging;

/// <summary>
/// The packages exactly as a user gets them: <c>dotnet pack Dsl.sln -c Release -o feed</c>, built in a folder of
/// its own (ArtifactsPath), so the repository's bin/ and obj/ are left as they were. Consumers restore from this feed
/// into their own packages folder: a Kiln of the same version left in the machine's NuGet cache by an earlier run can
/// never stand in for the one just packed.
/// </summary>
public sealed class PackedFeed : IDisposable
{
    public const string Version = "0.1.0-alpha";

    public PackedFeed()
    {
        Root = DotnetCli.TemporaryFolder("kiln-packages");
        Feed = Path.Combine(Root, "feed");
        DotnetCli.Run(RepoRoot(), $"pack Dsl.sln -c Release -o \"{Feed}\" -p:ArtifactsPath=\"{Path.Combine(Root, "artifacts")}\" -nodeReuse:false",
            TimeSpan.FromMinutes(10)).Succeeded("dotnet pack Dsl.sln");
    }

    public string Root { get; }

    public string Feed { get; }

    /// <summary>A new folder for one consumer, with a nuget.config that adds the feed to the repository's own sources.</summary>
    public string NewConsumerFolder(string name)
    {
        string folder = Path.Combine(Root, name);
        Directory.CreateDirectory(folder);
        var config = XDocument.Load(Path.Combine(RepoRoot(), "nuget.config"));
        var sources = config.Root!.Element("packageSources")!;
        sources.Elements("clear").Single().AddAfterSelf(new XElement("add", new XAttribute("key", "kiln-local"), new XAttribute("value", Feed)));
        config.Root.Add(new XElement("config", new XElement("add", new XAttribute("key", "globalPackagesFolder"), new XAttribute("value", Path.Combine(folder, ".packages")))));
        config.Save(Path.Combine(folder, "nuget.config"));
        return folder;
    }

    public static string RepoRoot([System.Runtime.CompilerServices.CallerFilePath] string file = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "..", "..", ".."));

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { } // a temporary folder: the system cleans it up later
        catch (UnauthorizedAccessException) { }
    }
}
