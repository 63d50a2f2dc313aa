using Kiln;
using Kiln.Runtime;
using KilnModel;

// Random weights (PyTorch's initialisation); use Weights.Load("file.safetensors") for trained ones.
var weights = Classifier.RandomWeights(seed: 1);
var random = new Random(2);
var x = new Tensor(Enumerable.Range(0, 8 * Classifier.Features).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(), 8, Classifier.Features);

using var device = Device.Default();                       // KILN_DEVICE=cpu|cuda[:N] overrides
using var model = Classifier.Compile(device, weights);
var compiled = model.Forward(x);

var eager = new Classifier();                              // the same Forward, run on the eager reference
eager.LoadWeights(weights);
var expected = eager.Forward(x);

float worst = compiled.Data.Zip(expected.Data, (a, e) => MathF.Abs(a - e)).Max();
Console.WriteLine($"device: {device.Name}, kernels: {Classifier.Compiled.ForwardProgram.Kernels.Count}");
Console.WriteLine($"logits {string.Join("x", compiled.Shape)}, max |compiled - eager| = {worst:G3}");
return worst <= 1e-4f ? 0 : 1;
