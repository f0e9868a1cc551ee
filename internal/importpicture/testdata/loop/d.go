package loop

func d() int { return c }
