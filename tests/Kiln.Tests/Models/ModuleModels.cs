using Kiln;
using Kiln.Nn;
using static Kiln.Ops;

namespace Kiln.Tests.Models;

/// <summary>A two-layer perceptron as a module: its Linear children are named <c>up.</c> and <c>down.</c>.</summary>
[Module]
internal sealed partial class TwoLayer(int width, int hidden)
{
    readonly Linear up = new(width, hidden);
    readonly Linear down = new(hidden, width, useBias: false);

    [Graph] public Tensor Forward(Tensor x) => down.Forward(Relu(up.Forward(x)));
}

/// <summary>Modules composed three ways: a field, an array from Modules.Repeat, and a foreach over it.</summary>
[Model]
public partial class ModuleStack
{
    public const int Width = 12;
    public const int Layers = 3;

    readonly Linear input = new(5, Width);
    readonly TwoLayer[] blocks = Modules.Repeat(Layers, i => new TwoLayer(Width, Width * (i + 1)));
    Tensor scale = Param(Width);

    [Graph]
    public Tensor Forward([Shape("batch", 5)] Tensor x)
    {
        var h = input.Forward(x);
        foreach (var block in blocks)
            h = h + block.Forward(h);
        return h * scale;
    }

    [Graph] public Tensor LastBlock([Shape("batch", Width)] Tensor x) => blocks[Layers - 1].Forward(x);
}
