namespace Kiln.Nn;

/// <summary>A pre-norm transformer block (GPT-2): <c>x + attn(ln1(x))</c>, then <c>x + mlp(ln2(x))</c>.</summary>
[Module]
internal sealed partial class TransformerBlock(int width, int heads, bool causal = true)
{
    readonly LayerNorm ln1 = new(width);
    readonly MultiHeadAttention attn = new(width, heads, causal);
    readonly LayerNorm ln2 = new(width);
    readonly FeedForward mlp = new(width, 4 * width);

    [Graph]
    public Tensor Forward(Tensor x)
    {
        x = x + attn.Forward(ln1.Forward(x));
        return x + mlp.Forward(ln2.Forward(x));
    }
}
