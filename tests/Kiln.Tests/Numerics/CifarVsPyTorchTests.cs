using System;
using System.IO;
using System.Linq;
using Kiln.Examples.Cifar;
using Kiln.Runtime;
using Kiln.Runtime.Cpu;
using Kiln.Tests.Support;
using Xunit;

namespace Kiln.Tests.Numerics;

/// <summary>
/// The CIFAR example against PyTorch: tests/reference/cifar_reference.py ran its PyTorch twin on the example's seed-1
/// synthetic weights (regenerated here by the same seeded draw) and two random images. Logits: 1e-4 absolute plus 1e-4
/// relative, through eight convolutions, four poolings and six batch norms.
/// </summary>
public sealed class CifarVsPyTorchTests : IClassFixture<IlgpuCpuFixture>
{
    readonly IlgpuCpuFixture _ilgpu;

    public CifarVsPyTorchTests(IlgpuCpuFixture ilgpu) => _ilgpu = ilgpu;

    static readonly Lazy<Weights> Reference = new(() => Weights.Load(Path.Combine(AppContext.BaseDirectory, "Reference", "cifar.safetensors")));

    [Fact]
    public void CpuLogitsMatchPyTorch()
    {
        using var device = Device.Cpu();
        using var model = CifarNet.Compile(device, CifarNet.SyntheticWeights(1));
        Tolerance.AssertClose(Reference.Value["logits"], model.Forward(Reference.Value["images"]), "CIFAR logits on CPU vs PyTorch");
    }

    [Fact]
    public void IlgpuLogitsMatchPyTorch()
    {
        var first = new Tensor(Reference.Value["images"].Data.Take(3 * 32 * 32).ToArray(), 1, 3, 32, 32);
        var expected = new Tensor(Reference.Value["logits"].Data.Take(CifarNet.Classes).ToArray(), 1, CifarNet.Classes);
        using var model = CifarNet.Compile(_ilgpu.Device, CifarNet.SyntheticWeights(1));
        Tolerance.AssertClose(expected, model.Forward(first), "CIFAR logits on the ILGPU kernels vs PyTorch");
    }
}
