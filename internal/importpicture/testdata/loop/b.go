package loop

func b(n int) int { return n + c }
