namespace Kiln;

public enum ReduceKind { Sum, Mean, Max }
