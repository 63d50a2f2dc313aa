using Kiln.Cli.Ptx;
using Xunit;

namespace Kiln.Tests.Support;

/// <summary>
/// A test that needs NVIDIA's assembler (ptxas, cuobjdump), which <c>.ci/fetch-cuda-tools</c> unpacks and <c>.ci/run</c>
/// fetches: reported as skipped where the tools are not there (no apt, no network), never passed.
/// </summary>
public sealed class CudaToolsFactAttribute : FactAttribute
{
    /// <param name="switchVariable">An environment variable that must be "1" for the test to run (a slow sweep), or null.</param>
    public CudaToolsFactAttribute(string? switchVariable = null)
    {
        if (CudaTools.Find() == null) Skip = "ptxas and cuobjdump not found. " + CudaTools.Hint;
        else if (switchVariable != null && System.Environment.GetEnvironmentVariable(switchVariable) != "1")
            Skip = $"A slow sweep: runs with {switchVariable}=1.";
    }
}
