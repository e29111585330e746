/// Small dense linear algebra for LinUCB (d ≤ 8): row-major d×d matrices in `[Double]`.
enum Linear {
    static func identity(_ d: Int, scale: Double) -> [Double] {
        var m = Array(repeating: 0.0, count: d * d)
        for i in 0..<d { m[i * d + i] = scale }
        return m
    }

    /// y = M x.
    static func multiply(_ m: [Double], _ x: [Double]) -> [Double] {
        let d = x.count
        var y = Array(repeating: 0.0, count: d)
        for i in 0..<d {
            var s = 0.0
            for j in 0..<d { s += m[i * d + j] * x[j] }
            y[i] = s
        }
        return y
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in 0..<a.count { s += a[i] * b[i] }
        return s
    }

    /// The inverse by Gauss–Jordan with partial pivoting; nil when singular. O(d³).
    static func inverse(_ m: [Double], _ d: Int) -> [Double]? {
        var a = m
        var inv = identity(d, scale: 1)
        for col in 0..<d {
            var pivot = col
            for r in (col + 1)..<max(col + 1, d) where abs(a[r * d + col]) > abs(a[pivot * d + col]) { pivot = r }
            let p = a[pivot * d + col]
            guard abs(p) > 1e-12 else { return nil }
            if pivot != col {
                for j in 0..<d {
                    a.swapAt(pivot * d + j, col * d + j)
                    inv.swapAt(pivot * d + j, col * d + j)
                }
            }
            for j in 0..<d { a[col * d + j] /= p; inv[col * d + j] /= p }
            for r in 0..<d where r != col {
                let f = a[r * d + col]
                if f == 0 { continue }
                for j in 0..<d {
                    a[r * d + j] -= f * a[col * d + j]
                    inv[r * d + j] -= f * inv[col * d + j]
                }
            }
        }
        return inv
    }

    /// Sherman–Morrison: (A + x xᵀ)⁻¹ from A⁻¹ in O(d²).
    static func shermanMorrison(_ inv: inout [Double], _ x: [Double]) {
        let d = x.count
        let u = multiply(inv, x)  // A⁻¹x (A⁻¹ is symmetric, so xᵀA⁻¹ = uᵀ)
        let denom = 1 + dot(x, u)
        for i in 0..<d {
            for j in 0..<d { inv[i * d + j] -= u[i] * u[j] / denom }
        }
    }
}
