using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using Kiln.Runtime;
using Kiln.Tests.Support;
using Microsoft.CodeAnalysis;
using Xunit;
using Xunit.Abstractions;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// The adversarial-names fuzzer (<see cref="AdversarialNames"/>). Property, per random model: the generator does not
/// throw or report an internal error; no generated file has an error or warning, and no generated name binds to a user
/// declaration (<see cref="GeneratorHarness.CapturableNames"/>); the model either gets a Kiln naming diagnostic (KLN0024,
/// KLN0025, KLN0026; required when it drew a reserved name) or builds, and its compiled outputs equal its eager outputs
/// on the CPU (and on ILGPU's CPU accelerator for every fourth case). CI runs a fixed-seed slice; the long run is
/// <c>KILN_NAMES_CASES=10000 dotnet test tests/Kiln.Tests --filter FullyQualifiedName~NamesFuzz</c> (docs/fuzzing.md).
/// </summary>
public sealed class NamesFuzzTests : IClassFixture<IlgpuCpuFixture>
{
    const int DefaultCases = 60, BatchSize = 20;
    static readonly string[] NamingDiagnostics = { "KLN0024", "KLN0025", "KLN0026" };

    readonly ITestOutputHelper _output;
    readonly IlgpuCpuFixture _ilgpu;

    public NamesFuzzTests(ITestOutputHelper output, IlgpuCpuFixture ilgpu) => (_output, _ilgpu) = (output, ilgpu);

    [Fact]
    public void RandomlyNamedModelsBuildOrAreRefusedAndMatchTheReference()
    {
        int cases = int.TryParse(Environment.GetEnvironmentVariable("KILN_NAMES_CASES"), out var n) ? n : DefaultCases;
        int firstSeed = int.TryParse(Environment.GetEnvironmentVariable("KILN_NAMES_SEED"), out var s) ? s : 1;
        var failures = new List<string>();
        int built = 0;
        var refusals = new Dictionary<string, int>();
        var timer = System.Diagnostics.Stopwatch.StartNew();
        using var cpu = Device.Cpu();
        for (int start = 0; start < cases; start += BatchSize)
        {
            var batch = Enumerable.Range(firstSeed + start, Math.Min(BatchSize, cases - start)).Select(seed => new AdversarialNames(seed)).ToList();
            built += RunBatch(batch, cpu, failures, refusals);
        }
        _output.WriteLine($"{cases} randomly named models from seed {firstSeed}: {built} built and matched, "
            + $"{refusals.Values.Sum()} refused ({string.Join(", ", refusals.OrderBy(p => p.Key).Select(p => $"{p.Key} × {p.Value}"))}), "
            + $"{failures.Count} failures, {timer.Elapsed.TotalSeconds:F0} s");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(5)));
    }

    /// <summary>Builds a batch in one compilation; returns how many models built and matched, and counts refusals by first diagnostic.</summary>
    int RunBatch(IReadOnlyList<AdversarialNames> batch, Device cpu, List<string> failures, Dictionary<string, int> refusals)
    {
        var result = GeneratorHarness.Run(batch.Select(c => ($"Case{c.Seed}.cs", c.Source)).ToArray());
        var crash = result.Run.Results.Select(r => r.Exception).FirstOrDefault(e => e != null);
        if (crash != null)
        {
            failures.Add($"seeds {batch[0].Seed}..{batch[^1].Seed}: the generator threw {crash}");
            return 0;
        }
        var unattributed = result.CompilationErrors.Where(d => !batch.Any(c => Regex.IsMatch(d.Location.GetLineSpan().Path ?? "", $@"\bCase{c.Seed}\b"))).ToList();
        if (unattributed.Count > 0)
            failures.Add($"seeds {batch[0].Seed}..{batch[^1].Seed}: errors outside the cases' files: {string.Join("; ", unattributed.Take(3))}");
        int built = 0;
        var ok = new List<AdversarialNames>();
        foreach (var c in batch)
        {
            bool Mine(Diagnostic d) => Regex.IsMatch(d.Location.GetLineSpan().Path ?? "", $@"\bCase{c.Seed}\b");
            var kiln = result.GeneratorDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error && Mine(d)).ToList();
            var errors = result.CompilationErrors.Where(Mine).ToList();
            string? failure =
                result.GeneratorDiagnostics.FirstOrDefault(d => d.Id is "KLN0015" or "CS8785") is { } internalError ? $"internal error: {internalError}"
                : errors.Count > 0 ? $"does not compile: {string.Join("; ", errors.Take(3))}"
                : kiln.FirstOrDefault(d => !NamingDiagnostics.Contains(d.Id)) is { } other ? $"unexpected diagnostic: {other}"
                : c.UsesReservedName && kiln.Count == 0 ? "a reserved name was accepted"
                : null;
            if (failure != null) failures.Add($"seed {c.Seed}: {failure}\n{c.Source}");
            else if (kiln.Count > 0) refusals[kiln[0].Id] = refusals.GetValueOrDefault(kiln[0].Id) + 1;
            else ok.Add(c);
        }
        // A batch with an error anywhere has its failures recorded above and cannot be emitted.
        if (ok.Count == 0 || result.CompilationErrors.Any(d => d.Severity == DiagnosticSeverity.Error)) return 0;

        using var assembly = InMemoryAssembly.Load(result);
        foreach (var c in ok)
        {
            try
            {
                var type = assembly.Assembly.GetTypes().Single(t => t.Namespace == c.Namespace.Replace("@", "") && t.GetCustomAttribute<ModelAttribute>() != null);
                var weights = GraphRunner.RandomWeights(type, c.Seed);
                foreach (var graph in c.Graphs)
                {
                    var inputs = GraphRunner.Inputs(type.GetMethod(graph)!, c.Seed, -1f, 1f);
                    var expected = GraphRunner.EagerOutputs(type, graph, inputs, weights);
                    var devices = c.Seed % 4 == 0 ? new[] { cpu, _ilgpu.Device } : new[] { cpu };
                    foreach (var device in devices)
                    {
                        var actual = GraphRunner.CompiledOutputs(type, graph, inputs, weights, device);
                        Assert.Equal(expected.Length, actual.Length);
                        for (int i = 0; i < expected.Length; i++) Tolerance.AssertClose(expected[i], actual[i], $"{graph} output {i} on {device.Kind}");
                    }
                }
                built++;
            }
            catch (Exception e)
            {
                failures.Add($"seed {c.Seed}: compiled and eager differ or fail to run: {(e is TargetInvocationException { InnerException: { } inner } ? inner : e).Message}\n{c.Source}");
            }
        }
        return built;
    }
}
