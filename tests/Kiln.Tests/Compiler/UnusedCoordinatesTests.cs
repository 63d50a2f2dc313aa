using Kiln.Compiler.Backends;
using Xunit;

namespace Kiln.Tests.Compiler;

public class UnusedCoordinatesTests
{
    static string Lines(params string[] lines) => string.Join("\n", lines);

    [Fact]
    public void KeepsReadCoordinatesAndTheDivisionsTheyNeed()
    {
        var source = Lines(
            "    {",
            "        long orest = item;",
            "        long o2 = orest % 31L; orest /= 31L;",
            "        const long o1 = 0;",
            "        long o3 = orest % 7L; orest /= 7L;",
            "        long o0 = orest;",
            "        y[item] = x[o3];",
            "    }",
            "    {",
            "        long o2 = 5;",
            "        y[o2] = 0f;",
            "    }");
        var expected = Lines(
            "    {",
            "        long orest = item;",
            "        orest /= 31L;",
            "        long o3 = orest % 7L;",
            "        y[item] = x[o3];",
            "    }",
            "    {",
            "        long o2 = 5;",
            "        y[o2] = 0f;",
            "    }");
        Assert.Equal(expected, UnusedCoordinates.Remove(source));
    }

    [Fact]
    public void AReadInAnotherBlockDoesNotKeepACoordinate()
    {
        var source = Lines(
            "        {",
            "            int orest = row;",
            "            int o1 = orest % dim_seq; orest /= dim_seq;",
            "            int o0 = orest;",
            "            t5[row] = acc;",
            "        }",
            "        {",
            "            t6[o0] = o1;",
            "        }");
        var expected = Lines(
            "        {",
            "            t5[row] = acc;",
            "        }",
            "        {",
            "            t6[o0] = o1;",
            "        }");
        Assert.Equal(expected, UnusedCoordinates.Remove(source));
    }
}
