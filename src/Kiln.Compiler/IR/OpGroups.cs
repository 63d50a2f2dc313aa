namespace Kiln.Compiler.IR;

public static class OpGroups
{
    public static bool IsData(this OpKind op) => op is OpKind.Input or OpKind.Param or OpKind.Constant or OpKind.State;

    public static bool IsUnary(this OpKind op) => op >= OpKind.Neg && op <= OpKind.ToFloat16;

    public static bool IsBinary(this OpKind op) => op >= OpKind.Add && op <= OpKind.Equal;

    /// <summary>Ops computed element by element at the result's index: unary, binary, where, and random numbers.</summary>
    public static bool IsElementwise(this OpKind op) => op.IsUnary() || op.IsBinary() || op is OpKind.Where or OpKind.Random;

    public static bool IsReduce(this OpKind op) => op is OpKind.Sum or OpKind.Mean or OpKind.ReduceMax or OpKind.ArgMax;

    public static bool IsView(this OpKind op) => op is OpKind.Reshape or OpKind.Permute or OpKind.BroadcastTo or OpKind.Slice;

    public static bool IsSoftmax(this OpKind op) => op is OpKind.Softmax or OpKind.LogSoftmax;

    /// <summary>Ops that compute statistics along one axis and then rewrite every element of it: softmax and the norms.</summary>
    public static bool IsRowOp(this OpKind op) => op.IsSoftmax() || op is OpKind.LayerNorm or OpKind.RmsNorm;

    /// <summary>Ops that reduce each window of [N, C, H, W] to one value: max, average, and max-pooling's tap index.</summary>
    public static bool IsPool(this OpKind op) => op is OpKind.MaxPool2d or OpKind.AvgPool2d or OpKind.MaxPool2dTaps;

    /// <summary>How many inputs the op takes.</summary>
    public static int Arity(this OpKind op) => op.IsData() || op == OpKind.Iota ? 0 : op == OpKind.CachedAttention ? 4 : op is OpKind.Attention or OpKind.Where or OpKind.WriteAt ? 3
        : op.IsBinary() || op is OpKind.Random or OpKind.MatMul or OpKind.Gather or OpKind.ScatterAdd or OpKind.Conv2d or OpKind.MaxPool2dGradient or OpKind.Concat ? 2 : 1;
}
