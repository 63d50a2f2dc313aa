using System;
using System.Linq;
using Kiln;
using Kiln.CpuOnly;
using Kiln.Runtime;

// Compiles the model for the default device (the CPU: this project has no other backend), runs it, and compares with
// the eager reference. Exit code 0 and the line "max |compiled - eager| = ..." mean it ran; 1 means it disagreed.
var weights = TinyClassifier.RandomWeights(seed: 5);
var rng = new Random(3);
var x = new Tensor(Enumerable.Range(0, 7 * TinyClassifier.Features).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), 7, TinyClassifier.Features);

using var device = Device.Default();
using var model = TinyClassifier.Compile(device, weights);
var compiled = model.Forward(x);
var eager = new TinyClassifier();
eager.LoadWeights(weights);
var expected = eager.Forward(x);

float worst = compiled.Data.Zip(expected.Data, (a, e) => MathF.Abs(a - e)).Max();
Console.WriteLine($"device: {device.Kind}");
Console.WriteLine($"max |compiled - eager| = {worst:G3}");
return worst <= 1e-4f ? 0 : 1;
