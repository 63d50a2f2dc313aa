using System.Linq;
using System.Text.RegularExpressions;

namespace Kiln.Cli.Ptx;

/// <summary>
/// What NVIDIA's assembler reports for one kernel on one architecture (<c>ptxas -v</c>: registers per thread, spill
/// bytes, stack frame, static shared memory) and what its SASS holds: tensor-core instructions (HMMA), shared-memory
/// loads and stores (LDS/STS) and 128-bit global loads and stores (LDG/STG …128). <see cref="Error"/> is set when the
/// PTX did not assemble.
/// </summary>
public sealed record PtxasResult(
    string Kernel, string Arch, int Registers, int SpillStoreBytes, int SpillLoadBytes, int StackBytes, int SharedBytes,
    int HmmaInstructions, int SharedInstructions, int WideGlobalInstructions, string? Error = null)
{
    public int SpillBytes => SpillStoreBytes + SpillLoadBytes;

    /// <summary>64-bit global loads and stores (LDG/STG …64): four 16-bit values at a time.</summary>
    public int Global64Instructions { get; init; }

    public static PtxasResult Failed(string kernel, string arch, string error) => new(kernel, arch, 0, 0, 0, 0, 0, 0, 0, 0, error);

    public static PtxasResult Parse(string kernel, string arch, string ptxasOutput, string sass)
    {
        static int Sum(string text, string pattern) =>
            Regex.Matches(text, pattern).Sum(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        // One entry per module: ILGPU writes one kernel (and no device functions) per PTX file.
        return new PtxasResult(kernel, arch,
            Registers: Sum(ptxasOutput, @"Used (\d+) registers"),
            SpillStoreBytes: Sum(ptxasOutput, @"(\d+) bytes spill stores"),
            SpillLoadBytes: Sum(ptxasOutput, @"(\d+) bytes spill loads"),
            StackBytes: Sum(ptxasOutput, @"(\d+) bytes stack frame"),
            SharedBytes: Sum(ptxasOutput, @"(\d+) bytes smem"),
            HmmaInstructions: Regex.Matches(sass, @"\bHMMA\.").Count,
            SharedInstructions: Regex.Matches(sass, @"\b(LDS|STS|LDSM)(\.|\s)").Count,
            WideGlobalInstructions: Regex.Matches(sass, @"\b(LDG|STG)(\.\w+)*\.128\b").Count)
        {
            Global64Instructions = Regex.Matches(sass, @"\b(LDG|STG)(\.\w+)*\.64\b").Count,
        };
    }
}
