using Microsoft.CodeAnalysis;

namespace Kiln.Generators;

/// <summary>Every diagnostic Kiln reports. IDs are assigned in order and never reused.</summary>
public static class DiagnosticDescriptors
{
    const string Syntax = "Kiln.Syntax";
    const string Shape = "Kiln.Shape";
    const string Internal = "Kiln.Internal";
    const string Backend = "Kiln.Backend";
    const string Memory = "Kiln.Memory";

    public static readonly DiagnosticDescriptor ModelNotPartial = new(
        "KLN0001", "Model class must be partial",
        "Model class '{0}' must be declared partial so that Kiln can add its compiled entry points",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnsupportedConstruct = new(
        "KLN0002", "Unsupported construct in a graph",
        "Kiln cannot compile '{0}' in a graph: {1}",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NonConstantLoopBound = new(
        "KLN0003", "Loop bound is not a build-time constant",
        "The loop '{0}' must have bounds known at build time (literals, const fields and enclosing loop variables): {1}",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ParamWithoutShape = new(
        "KLN0004", "Parameter without shape",
        "Parameter '{0}' has no shape; give its sizes as in [Param(784, 512)]",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InputWithoutShape = new(
        "KLN0005", "Graph input without shape",
        "Input '{0}' of graph '{1}' has no shape; add one as in [Shape(\"batch\", 784)]",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ShapeMismatch = new(
        "KLN0006", "Shape mismatch",
        "Shape mismatch: {0}",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor IncompatibleMatMul = new(
        "KLN0007", "Incompatible matmul",
        "Incompatible matmul: {0}",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadAxis = new(
        "KLN0008", "Bad axis",
        "Bad axis: {0}",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadReshape = new(
        "KLN0009", "Bad reshape",
        "Bad reshape: {0}",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor RecursiveGraph = new(
        "KLN0010", "Recursive graph method",
        "Graph method '{0}' calls itself (directly or through other graph methods); graphs are inlined and cannot recurse",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnrollLimit = new(
        "KLN0011", "Loop unrolls too far",
        "The loop '{0}' unrolls past {1} iterations; a graph this large is almost certainly a mistake",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadDimension = new(
        "KLN0012", "Invalid dimension",
        "Invalid dimension {0} in the shape of '{1}': {2}",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NoEntryPoint = new(
        "KLN0013", "Model has no entry point",
        "Model '{0}' has no public [Graph] method, so nothing is compiled",
        Syntax, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor GraphMustReturnTensor = new(
        "KLN0014", "Graph must return a Tensor",
        "Graph method '{0}' must return a Tensor (an entry point may return a tuple of Tensors)",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InternalError = new(
        "KLN0015", "Kiln internal error",
        "Kiln hit an internal error while compiling '{0}': {1}. This is a bug in Kiln; please report it with the model.",
        Internal, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor TensorTooLarge = new(
        "KLN0016", "Tensor too large",
        "'{0}' is too large: {1}",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidModule = new(
        "KLN0017", "Invalid module",
        "'{0}' cannot be used as a Kiln module: {1}",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadSlice = new(
        "KLN0018", "Bad slice",
        "Bad slice: {0}",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadEmbedding = new(
        "KLN0019", "Bad embedding lookup",
        "Bad embedding lookup: {0}",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadAttention = new(
        "KLN0020", "Bad attention",
        "Bad attention: {0}",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidConfiguration = new(
        "KLN0021", "Invalid model configuration",
        "'{0}' is not a valid configuration: {1}",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadWindow = new(
        "KLN0022", "Bad convolution or pooling window",
        "Bad convolution or pooling window: {0}",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BackendConfiguration = new(
        "KLN0023", "Backend configuration",
        "Kiln backends: {0}",
        Backend, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor WeightNameCollision = new(
        "KLN0024", "Two fields load one weight name",
        "Fields '{0}' and '{1}' of {2} both load the weight named '{3}' (weight names are the field names in snake_case, a leading underscore dropped); rename one",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ReservedName = new(
        "KLN0025", "Name reserved by Kiln's generated code",
        "'{0}' is reserved: Kiln generates {1}; rename it",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidModel = new(
        "KLN0026", "Invalid model class",
        "'{0}' cannot be a Kiln model: {1}",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor OverMemoryBudget = new(
        "KLN0027", "Over the memory budget",
        "Over the memory budget: {0}",
        Memory, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidMemoryBudget = new(
        "KLN0028", "Invalid memory budget",
        "Invalid memory budget: {0}",
        Memory, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidGpuPrecision = new(
        "KLN0029", "Invalid GPU precision",
        "Invalid [GpuPrecision]: {0}",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NotDifferentiable = new(
        "KLN0030", "Loss cannot be differentiated",
        "Cannot train on loss '{0}': {1}",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidLoss = new(
        "KLN0031", "Invalid [Loss] method",
        "Invalid [Loss] '{0}': {1}",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor OnnxFileNotFound = new(
        "KLN0032", "ONNX file not found",
        "[OnnxModel(\"{0}\")]: {1}",
        Syntax, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor OnnxNotCompilable = new(
        "KLN0033", "ONNX model cannot be compiled",
        "Cannot compile ONNX model '{0}' into '{1}': {2}",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadStateWrite = new(
        "KLN0034", "Bad state write",
        "Bad state write: {0}",
        Shape, DiagnosticSeverity.Error, isEnabledByDefault: true);

    // KLN0035 and KLN0036 are the build targets' (src/Kiln/buildTransitive/Kiln.targets): KilnReport=true and `kiln
    // report` failed; KilnPrecompilePtx=true and `kiln ptx-pack` failed. Taken here so that no generator diagnostic reuses them.

    static readonly System.Collections.Generic.Dictionary<string, DiagnosticDescriptor> All =
        System.Linq.Enumerable.ToDictionary(
            System.Linq.Enumerable.Select(
                typeof(DiagnosticDescriptors).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static),
                f => (DiagnosticDescriptor)f.GetValue(null)!),
            d => d.Id);

    /// <summary>The descriptor with this ID (every public field above); unknown IDs map to the internal error.</summary>
    public static DiagnosticDescriptor ById(string id) => All.TryGetValue(id, out var d) ? d : InternalError;
}
