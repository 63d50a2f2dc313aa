using System;
using System.IO;
using System.Reflection;

namespace Kiln.Examples.Llama;

/// <summary>The bundled resources (trained weights, a held-out excerpt of Moby-Dick) and the character ↔ token mapping.</summary>
public static class Corpus
{
    public static Stream Resource(string name) =>
        Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
        ?? throw new FileNotFoundException($"The embedded resource '{name}' is missing; tests/reference/llama_example_reference.py writes it.");

    /// <summary>4,096 characters from the tail of the book, which training never saw.</summary>
    public static string HeldOut()
    {
        using var reader = new StreamReader(Resource("held-out.txt"));
        return reader.ReadToEnd();
    }

    public static int[] Encode(string text)
    {
        var ids = new int[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            int id = TinyLlama.Vocabulary.IndexOf(text[i]);
            ids[i] = id >= 0 ? id : throw new ArgumentException($"'{text[i]}' (U+{(int)text[i]:X4}) at position {i} is not one of the model's {TinyLlama.Vocab} characters.");
        }
        return ids;
    }

    public static char Decode(int id) => TinyLlama.Vocabulary[id];
}
