using System.Text;

namespace Kiln.Compiler.Kernels;

public static class KernelPlanPrinter
{
    public static string Print(KernelPlan plan)
    {
        var sb = new StringBuilder();
        sb.Append("plan ").Append(plan.Name).Append('\n');
        foreach (var b in plan.Buffers) sb.Append("  ").Append(b).Append('\n');
        foreach (var k in plan.Kernels)
        {
            sb.Append("  k").Append(k.Id).Append(' ').Append(k.Kind).Append(" -> b").Append(k.Output).Append(' ').Append(k.Shape).Append('\n');
            switch (k.Root)
            {
                case MatMulRoot m: sb.Append("    acc = matmul(").Append(m.A).Append(", ").Append(m.B).Append(")\n"); break;
                case ReduceRoot r: sb.Append("    acc = ").Append(k.Kind).Append(" axis ").Append(r.Axis).Append(" of ").Append(r.Input).Append('\n'); break;
                case RowRoot s: sb.Append("    acc = ").Append(k.Kind).Append(" axis ").Append(s.Axis).Append(" of ").Append(s.Input).Append('\n'); break;
                case GatherRoot g: sb.Append("    acc = gather(").Append(g.Table).Append(", ").Append(g.Indices).Append(")\n"); break;
                case ScatterAddRoot s: sb.Append("    acc = scatteradd(").Append(s.Values).Append(" at ").Append(s.Indices).Append(" over ").Append(s.IndexShape).Append(")\n"); break;
                case ConvRoot c: sb.Append("    acc = conv2d(").Append(c.X).Append(", ").Append(c.W).Append(") ").Append(c.Window).Append('\n'); break;
                case PoolRoot p: sb.Append("    acc = ").Append(k.Kind).Append(' ').Append(p.Window).Append(" of ").Append(p.Input).Append('\n'); break;
                case PoolGradientRoot p: sb.Append("    acc = ").Append(k.Kind).Append(' ').Append(p.Window).Append(" of ").Append(p.Gradient).Append(" at taps ").Append(p.Taps).Append('\n'); break;
                case AttentionRoot a: sb.Append("    acc = attention(").Append(a.Q).Append(", ").Append(a.K).Append(", ").Append(a.V).Append(a.Causal ? ", causal" : "").Append(a.Positions != null ? $", at {a.Positions}" : "").Append(")\n"); break;
                case WriteAtRoot w: sb.Append("    write at rows ").Append(w.Positions).Append(" + t of ").Append(w.StateShape).Append('\n'); break;
            }
            sb.Append("    out = ").Append(k.Body).Append('\n');
            foreach (var op in k.SourceOps) sb.Append("    op ").Append(op).Append('\n');
            foreach (var note in k.Notes) sb.Append("    note ").Append(note).Append('\n');
        }
        return sb.ToString();
    }
}
