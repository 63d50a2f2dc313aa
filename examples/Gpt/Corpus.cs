using System;
using System.IO;
using System.Reflection;

namespace Kiln.Examples.Gpt;

/// <summary>The bundled resources: trained weights and an excerpt of Moby-Dick, and the character ↔ token mapping.</summary>
public static class Corpus
{
    public static Stream Resource(string name) =>
        Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
        ?? throw new FileNotFoundException($"The embedded resource '{name}' is missing; tests/reference/gpt_reference.py writes it.");

    public static string Excerpt()
    {
        using var reader = new StreamReader(Resource("moby-dick-excerpt.txt"));
        return reader.ReadToEnd();
    }

    public static float[] Encode(string text)
    {
        var ids = new float[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            int id = CharGpt.Vocabulary.IndexOf(text[i]);
            ids[i] = id >= 0 ? id : throw new ArgumentException($"'{text[i]}' (U+{(int)text[i]:X4}) at position {i} is not one of the model's {CharGpt.Vocab} characters.");
        }
        return ids;
    }

    public static char Decode(int id) => CharGpt.Vocabulary[id];
}
