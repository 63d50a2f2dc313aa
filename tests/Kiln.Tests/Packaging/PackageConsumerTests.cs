using System;
using System.IO;
using System.Linq;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Packaging;

/// <summary>
/// Kiln in a user's own project, from the packages alone: a fresh <c>dotnet new console</c> outside this repository,
/// <c>dotnet add package</c> from the packed feed, a model with <c>[Param]</c>s and a standard <c>Linear</c>, built and
/// run and compared with the eager reference; and a second project whose own <c>[Module]</c> is wired with a shape
/// error, which must fail the build with the Kiln diagnostic on the user's line and nothing else.
/// </summary>
[Trait("Category", "Packaging")]
public sealed class PackageConsumerTests : IClassFixture<PackedFeed>
{
    static readonly TimeSpan Minutes5 = TimeSpan.FromMinutes(5);
    readonly PackedFeed _feed;

    public PackageConsumerTests(PackedFeed feed) => _feed = feed;

    string NewConsoleApp(string name, params string[] packages)
    {
        string folder = _feed.NewConsumerFolder(name);
        DotnetCli.Run(folder, "new console -o App --framework net10.0", Minutes5).Succeeded("dotnet new console");
        string app = Path.Combine(folder, "App");
        foreach (var package in packages)
            DotnetCli.Run(app, $"add package {package} --version {PackedFeed.Version}", Minutes5).Succeeded($"dotnet add package {package}");
        return app;
    }

    /// <summary>The app's Directory.Build.props: <paramref name="properties"/> (Kiln's build properties) and the kiln tool at <paramref name="tool"/>.</summary>
    static void KilnBuildSettings(string app, string tool, string properties) => File.WriteAllText(Path.Combine(app, "Directory.Build.props"), $"""
        <Project>
          <PropertyGroup>
            {properties}
            <KilnTool>"{tool}"</KilnTool>
          </PropertyGroup>
        </Project>
        """);

    /// <remarks>Then the <c>kiln</c> tool, installed from the same feed, writes the compile report of the app's model.</remarks>
    [Fact]
    public void AModelBuildsRunsAndReportsFromThePackages()
    {
        string app = NewConsoleApp("runs", "Kiln", "Kiln.Runtime.Cpu");
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Kiln;
            using Kiln.Runtime;

            var weights = TinyNet.RandomWeights(seed: 7);
            var rng = new Random(3);
            var x = new Tensor(Enumerable.Range(0, 5 * 6).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), 5, 6);

            using var device = Device.Default();
            using var model = TinyNet.Compile(device, weights);
            var compiled = model.Forward(x);
            var eager = new TinyNet();
            eager.LoadWeights(weights);
            var expected = eager.Forward(x);

            float worst = compiled.Data.Zip(expected.Data, (a, e) => MathF.Abs(a - e) / (1 + MathF.Abs(e))).Max();
            Console.WriteLine($"device: {device.Kind}");
            Console.WriteLine($"shape: {string.Join("x", compiled.Shape)}");
            Console.WriteLine($"kernels: {TinyNet.Compiled.ForwardProgram.Kernels.Count}");
            Console.WriteLine($"max relative |compiled - eager| = {worst:R}");
            return worst <= 1e-4f ? 0 : 1;
            """);
        File.WriteAllText(Path.Combine(app, "TinyNet.cs"), """
            using Kiln;
            using Kiln.Nn;
            using static Kiln.Ops;

            [Model]
            public partial class TinyNet
            {
                [Param(6, 8)] Tensor w;
                [Param(8)] Tensor b;
                readonly Linear head = new(8, 3);

                [Graph]
                public Tensor Forward([Shape("batch", 6)] Tensor x) => head.Forward(Gelu(MatMul(x, w) + b));
            }
            """);

        var build = DotnetCli.Run(app, "build -c Release -nodeReuse:false", Minutes5).Succeeded("dotnet build");
        Assert.DoesNotContain(": warning ", build.Output);
        var generated = Directory.GetFiles(Path.Combine(app, "obj"), "*.g.cs", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.Contains("TinyNet.Cpu.g.cs", generated);          // the generator ran, in the package's analyzers/ folder,
        Assert.DoesNotContain("TinyNet.Cuda.g.cs", generated);   // for the one backend referenced
        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(app, "bin"), "*", SearchOption.AllDirectories), f => Path.GetFileName(f).StartsWith("ILGPU", StringComparison.Ordinal));

        var run = DotnetCli.Run(app, "run -c Release --no-build", Minutes5);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("device: Cpu", run.Output);
        Assert.Contains("shape: 5x3", run.Output);
        Assert.Contains("kernels: 2", run.Output);
        Assert.Contains("max relative |compiled - eager| = ", run.Output);

        string tools = Path.Combine(app, "..", "tools");
        DotnetCli.Run(app, $"tool install Kiln.Cli --version {PackedFeed.Version} --tool-path \"{tools}\"", Minutes5).Succeeded("dotnet tool install Kiln.Cli");
        string report = Path.Combine(app, "..", "report");
        var kiln = DotnetCli.RunProgram(Path.Combine(tools, "kiln"), app,
            $"report bin/Release/net10.0/App.dll --out \"{report}\" --sizes batch=4 --profile --iterations 2 --cpu-gflops 50 --cpu-gbs 10", Minutes5);
        Assert.True(kiln.ExitCode == 0, kiln.Output);
        string html = File.ReadAllText(Path.Combine(report, "TinyNet.html"));
        Assert.Equal(2, html.Split("<g class=\"kernel\"").Length - 1);
        Assert.Contains("TinyNet.cs:", html); // source ops carry the user's file and line
        Assert.Contains("<th>measured mean</th>", html);

        // The project's memory budget as MSBuild properties: over it, the build fails with KLN0027 at the model.
        var overBudget = DotnetCli.Run(app, "build -c Release -nodeReuse:false -p:KilnMemoryBudget=100B -p:KilnMaxSizes=batch=4", Minutes5);
        Assert.NotEqual(0, overBudget.ExitCode);
        Assert.Contains(overBudget.Output.Split('\n'), l => l.Contains("TinyNet.cs(", StringComparison.Ordinal) && l.Contains("error KLN0027")
            && l.Contains("over the project's KilnMemoryBudget of 100 B", StringComparison.Ordinal));

        // The report as a build output (KilnReport=true), through the tool: a missing tool is KLN0035, then the report.
        void Settings(string tool) => KilnBuildSettings(app, tool, "<KilnReport>true</KilnReport><KilnReportArguments>--sizes batch=4 --cpu-gflops 50 --cpu-gbs 10</KilnReportArguments>");
        Settings(Path.Combine(tools, "no-such-kiln"));
        var noTool = DotnetCli.Run(app, "build -c Release -nodeReuse:false", Minutes5);
        Assert.NotEqual(0, noTool.ExitCode);
        Assert.Contains("error KLN0035", noTool.Output);
        Settings(Path.Combine(tools, "kiln"));
        var reported = DotnetCli.Run(app, "build -c Release -nodeReuse:false", Minutes5).Succeeded("dotnet build with KilnReport=true");
        Assert.Contains("(Kiln compile report)", reported.Output);
        string built = File.ReadAllText(Path.Combine(app, "bin", "Release", "net10.0", "kiln-report", "TinyNet.html"));
        Assert.Equal(2, built.Split("<g class=\"kernel\"").Length - 1);
        Assert.True(File.Exists(Path.Combine(app, "bin", "Release", "net10.0", "kiln-report", "index.html")));
    }

    /// <summary>
    /// A CUDA model project with <c>KilnPrecompilePtx=true</c>: without the tool the build fails with KLN0036; with the
    /// <c>kiln</c> tool from the same feed it writes <c>App.dll.kiln-ptx</c>, which the app's own CUDA runtime opens (the
    /// fingerprint of the assembly it runs and of the package's runtime match) and finds every kernel of the model in;
    /// <c>dotnet publish</c> carries the file. (Loading those kernels through the driver needs a GPU:
    /// <c>PrecompiledPtxTests</c>.)
    /// </summary>
    [Fact]
    public void CudaKernelsArePrecompiledAtBuildTime()
    {
        string app = NewConsoleApp("ptx", "Kiln", "Kiln.Runtime.Cuda");
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Kiln.Runtime.Cuda;

            var file = PrecompiledPtx.Open(typeof(TinyNet).Assembly);
            var kernels = typeof(TinyNet.Compiled).GetNestedType("ForwardCuda")!.GetMethods()
                .Where(m => m.IsStatic && System.Text.RegularExpressions.Regex.IsMatch(m.Name, @"^K\d+(Skinny|Quads)?$")).ToList(); // Kn, a product's few-row KnSkinny, an element-wise kernel's four-wide KnQuads
            Console.WriteLine($"kernels: {kernels.Count}");
            Console.WriteLine($"precompiled: {file?.Count ?? -1}");
            Console.WriteLine($"all found: {kernels.All(k => file?.Find(k) != null)}");
            """);
        File.WriteAllText(Path.Combine(app, "TinyNet.cs"), """
            using Kiln;
            using static Kiln.Ops;

            [Model]
            public partial class TinyNet
            {
                [Param(6, 8)] Tensor w;

                [Graph]
                public Tensor Forward([Shape("batch", 6)] Tensor x) => Softmax(Gelu(MatMul(x, w)), -1);
            }
            """);
        string tools = Path.Combine(app, "..", "tools");
        DotnetCli.Run(app, $"tool install Kiln.Cli --version {PackedFeed.Version} --tool-path \"{tools}\"", Minutes5).Succeeded("dotnet tool install Kiln.Cli");
        void Settings(string tool) => KilnBuildSettings(app, tool, "<KilnPrecompilePtx>true</KilnPrecompilePtx>");
        Settings(Path.Combine(tools, "no-such-kiln"));
        var noTool = DotnetCli.Run(app, "build -c Release -nodeReuse:false", Minutes5);
        Assert.NotEqual(0, noTool.ExitCode);
        Assert.Contains("error KLN0036", noTool.Output);

        Settings(Path.Combine(tools, "kiln"));
        var build = DotnetCli.Run(app, "build -c Release -nodeReuse:false", Minutes5).Succeeded("dotnet build with KilnPrecompilePtx=true");
        Assert.Contains("(precompiled PTX)", build.Output);
        Assert.True(File.Exists(Path.Combine(app, "bin", "Release", "net10.0", "App.dll.kiln-ptx")));
        var run = DotnetCli.Run(app, "run -c Release --no-build", Minutes5);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("all found: True", run.Output);
        string kernels = run.Output.Split('\n').Single(l => l.StartsWith("kernels: ", StringComparison.Ordinal)).Trim();
        Assert.True(int.Parse(kernels["kernels: ".Length..], System.Globalization.CultureInfo.InvariantCulture) >= 3, run.Output); // the GEMM's two, the softmax
        Assert.Contains("precompiled: " + kernels["kernels: ".Length..], run.Output);

        DotnetCli.Run(app, "publish -c Release --no-build -o published -nodeReuse:false", Minutes5).Succeeded("dotnet publish");
        Assert.True(File.Exists(Path.Combine(app, "published", "App.dll.kiln-ptx")));
    }

    /// <summary>
    /// An ONNX file in the user's project (PyTorch's export of the test conv net) compiles through <c>[OnnxModel]</c> with
    /// nothing but the packages — the Kiln package makes the project's .onnx files AdditionalFiles — runs on its weights
    /// read from the file, matches PyTorch's output, and exports back to ONNX.
    /// </summary>
    [Fact]
    public void AnOnnxModelBuildsAndRunsFromThePackages()
    {
        string app = NewConsoleApp("onnx", "Kiln.Runtime.Cpu");
        Directory.CreateDirectory(Path.Combine(app, "models"));
        File.Copy(Onnx.OnnxImportTests.ModelPath("convnet.onnx"), Path.Combine(app, "models", "convnet.onnx"));
        File.Copy(Onnx.OnnxImportTests.ModelPath("onnx_outputs.safetensors"), Path.Combine(app, "expected.safetensors"));
        File.WriteAllText(Path.Combine(app, "Net.cs"), """
            using Kiln;

            [OnnxModel("models/convnet.onnx")]
            public partial class Net;
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Kiln;
            using Kiln.Runtime;

            var weights = Weights.FromOnnx("models/convnet.onnx");
            var expected = Weights.Load("expected.safetensors");
            using var device = Device.Cpu();
            using var net = Net.Compile(device, weights);
            var y = net.Forward(expected["convnet.input"]);
            float worst = y.Data.Zip(expected["convnet.output"].Data, (a, e) => MathF.Abs(a - e) / (1 + MathF.Abs(e))).Max();
            Console.WriteLine($"shape: {string.Join("x", y.Shape)}");
            Console.WriteLine($"max relative |kiln - pytorch| = {worst:R}");
            Net.ExportOnnx("exported.onnx", weights);
            Console.WriteLine($"exported: {new FileInfo("exported.onnx").Length > 0}");
            return worst <= 1e-4f ? 0 : 1;
            """);
        var build = DotnetCli.Run(app, "build -c Release -nodeReuse:false", Minutes5).Succeeded("dotnet build");
        Assert.DoesNotContain(": warning ", build.Output);
        var run = DotnetCli.Run(app, "run -c Release --no-build", Minutes5);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("shape: 2x10", run.Output);
        Assert.Contains("exported: True", run.Output);
    }

    /// <summary><c>dotnet new kiln-model</c> from the packed template (installed into a private template cache) builds and runs.</summary>
    [Fact]
    public void TheTemplateProjectBuildsAndRuns()
    {
        string folder = _feed.NewConsumerFolder("template");
        string hive = Path.Combine(folder, ".template-cache"); // never the user's own template cache
        string template = Path.Combine(_feed.Feed, $"Kiln.Templates.{PackedFeed.Version}.nupkg");
        DotnetCli.Run(folder, $"new install \"{template}\" --debug:custom-hive \"{hive}\"", Minutes5).Succeeded("dotnet new install");
        DotnetCli.Run(folder, $"new kiln-model -o MyModels --debug:custom-hive \"{hive}\"", Minutes5).Succeeded("dotnet new kiln-model");
        string app = Path.Combine(folder, "MyModels");
        Assert.Contains($"Version=\"{PackedFeed.Version}\"", File.ReadAllText(Path.Combine(app, "MyModels.csproj")));

        var build = DotnetCli.Run(app, "build -c Release -nodeReuse:false", Minutes5).Succeeded("dotnet build");
        Assert.DoesNotContain(": warning ", build.Output);
        var run = DotnetCli.Run(app, "run -c Release --no-build", Minutes5);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("kernels: 2", run.Output);
        Assert.Contains("logits 8x4, max |compiled - eager| = ", run.Output);
    }

    [Fact]
    public void AShapeErrorInTheUsersOwnModuleIsAKilnDiagnostic()
    {
        string app = NewConsoleApp("shape-error", "Kiln.Runtime.Cpu");
        File.WriteAllText(Path.Combine(app, "Program.cs"), "Console.WriteLine(typeof(Broken).Name);\n");
        File.WriteAllText(Path.Combine(app, "Broken.cs"), """
            using Kiln;
            using static Kiln.Ops;

            [Module]
            public sealed partial class Block(int width)
            {
                Tensor weight = Param(width, width);

                [Graph]
                public Tensor Forward(Tensor x) => Relu(MatMul(x, weight));
            }

            [Model]
            public partial class Broken
            {
                readonly Block block = new(8);
                [Param(4)] Tensor scale;

                [Graph]
                public Tensor Forward([Shape("batch", 8)] Tensor x) => block.Forward(x) * scale;
            }
            """);

        var build = DotnetCli.Run(app, "build -nodeReuse:false", Minutes5);
        Assert.NotEqual(0, build.ExitCode);
        var errors = build.Output.Split('\n').Where(l => l.Contains(": error ", StringComparison.Ordinal)).Select(l => l.Trim()).Distinct().ToList();
        Assert.True(errors.Count > 0, build.Output);
        Assert.All(errors, e => Assert.Contains("error KLN0006", e));
        Assert.Contains(errors, e => e.Contains("Broken.cs(20,", StringComparison.Ordinal) && e.Contains("[batch, 8]") && e.Contains("[4]"));
        Assert.DoesNotContain("CS0649", build.Output);
    }
}
