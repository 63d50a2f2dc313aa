using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Compiler.Util;

namespace Kiln.Compiler.Backends;

/// <summary>
/// Which backends a project's models are compiled for. The MSBuild property <c>KilnBackends</c> (<c>cpu</c>, <c>cuda</c>,
/// or both, separated by <c>;</c> or <c>,</c>) chooses; without it, every backend whose runtime assembly the project
/// references: a project that references only <c>Kiln.Runtime.Cpu</c> gets CPU code and never names ILGPU. Problems
/// (an unknown name, a backend without its runtime, no backend at all) are <see cref="Problems"/>, reported once per project.
/// <see cref="HasRuntime"/>: whether the project references <c>Kiln.Runtime</c>, which every generated file uses; without
/// it (a project that references only the <c>Kiln</c> package) nothing is generated, and the missing backend is the one problem.
/// </summary>
public sealed record BackendSelection(EquatableArray<string> Names, EquatableArray<string> Problems, bool HasRuntime)
{
    public const string RuntimeAssembly = "Kiln.Runtime";

    public IReadOnlyList<Backend> Backends => Backend.All.Where(b => Names.Contains(b.SettingName)).ToList();

    public static BackendSelection Resolve(string? setting, IEnumerable<string> referencedAssemblies)
    {
        var referenced = new HashSet<string>(referencedAssemblies, StringComparer.OrdinalIgnoreCase);
        var problems = new List<string>();
        var names = new List<string>();
        if (string.IsNullOrWhiteSpace(setting))
        {
            names.AddRange(Backend.All.Where(b => referenced.Contains(b.RuntimeAssembly)).Select(b => b.SettingName));
            if (names.Count == 0)
                problems.Add($"no Kiln backend runtime is referenced, so models compile without kernels: reference {string.Join(" or ", Backend.All.Select(b => b.RuntimeAssembly))}");
        }
        else
        {
            foreach (var raw in setting!.Split(new[] { ';', ',', ' ' }, StringSplitOptions.RemoveEmptyEntries))
            {
                string name = raw.Trim().ToLowerInvariant();
                var backend = Backend.All.FirstOrDefault(b => b.SettingName == name);
                if (backend == null)
                    problems.Add($"KilnBackends names '{raw.Trim()}', which is not a backend (known: {string.Join(", ", Backend.All.Select(b => b.SettingName))})");
                else if (!referenced.Contains(backend.RuntimeAssembly))
                    problems.Add($"KilnBackends names '{name}', but the project does not reference {backend.RuntimeAssembly}");
                else if (!names.Contains(name))
                    names.Add(name);
            }
        }
        return new BackendSelection(names.ToEquatableArray(), problems.ToEquatableArray(), referenced.Contains(RuntimeAssembly));
    }
}
