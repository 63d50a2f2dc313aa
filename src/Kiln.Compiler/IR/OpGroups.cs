namespace Kiln.Compiler.IR;

public static class OpGroups
{
    public static bool IsData(this OpKind op) => op is OpKind.Input or OpKind.Param or OpKind.Constant;

    public static bool IsUnary(this OpKind op) => op >= OpKind.Neg && op <= OpKind.Silu;

    public static bool IsBinary(this OpKind op) => op >= OpKind.Add && op <= OpKind.Pow;

    public static bool IsElementwise(this OpKind op) => op.IsUnary() || op.IsBinary();

    public static bool IsReduce(this OpKind op) => op is OpKind.Sum or OpKind.Mean or OpKind.ReduceMax;

    public static bool IsView(this OpKind op) => op is OpKind.Reshape or OpKind.Permute or OpKind.BroadcastTo;

    public static bool IsSoftmax(this OpKind op) => op is OpKind.Softmax or OpKind.LogSoftmax;

    /// <summary>Ops that start a kernel of their own: everything else is fused into one.</summary>
    public static bool IsKernelRoot(this OpKind op) => op.IsReduce() || op.IsSoftmax() || op == OpKind.MatMul;
}
