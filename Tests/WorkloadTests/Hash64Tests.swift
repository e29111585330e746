import Testing
import WRPCommon

@Suite struct Hash64Tests {
    // Pinned once (and cross-checked against an independent Python transcription of the
    // algorithm): if any of these change, every router node and wrp-sim disagree on block hashes
    // with older builds, so a change must be deliberate.
    static let pinned: [(String, UInt64, UInt64)] = [
        ("", Hash64.seedA, 0x9CA0_66F1_A4AB_2EEA),
        ("", Hash64.seedB, 0x0FF2_E696_99C4_857E),
        ("a", Hash64.seedA, 0x3FB7_6FA7_A702_AFB0),
        ("hello", Hash64.seedA, 0x1829_3C69_B8F2_2BFD),
        ("hello", Hash64.seedB, 0x87AA_18CB_27D7_6CA0),
        ("abcdefgh", Hash64.seedA, 0xA2D9_A7B3_FB30_2911),
        ("The quick brown fox jumps over the lazy dog", Hash64.seedA, 0xD34A_BFF8_4DED_D20A),
        ("gpt-4o", Hash64.seedA, 0x968B_2D51_D1BB_C52E),
        ("\u{E9}", Hash64.seedA, 0xD7F7_388B_3ACE_1511),
    ]

    @Test(arguments: pinned)
    func input_hash_matchesPinnedValue(_ s: String, _ seed: UInt64, _ expected: UInt64) {
        #expect(Hash64.hash(s, seed: seed) == expected)
        #expect(Hash64.hash(Array(s.utf8), seed: seed) == expected)
    }

    @Test func mixAndCombine_matchPinnedValues() {
        #expect(Hash64.mix(0) == 0)
        #expect(Hash64.mix(1) == 0xB456_BCFC_34C2_CB2C)
        #expect(Hash64.combine(1, 2) == 0xDB9F_04C7_3B52_0605)
    }

    @Test func mix_distinctInputs_giveDistinctOutputs() {
        var seen = Set<UInt64>()
        for i in 0..<10_000 as Range<UInt64> { seen.insert(Hash64.mix(i)) }
        #expect(seen.count == 10_000)
    }

    @Test func unalignedSlices_hashLikeCopies() {
        let big = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        big.withUnsafeBytes { p in
            for offset in 0..<8 {
                for length in [0, 1, 7, 8, 9, 23, 40] {
                    let slice = UnsafeRawBufferPointer(rebasing: p[offset..<(offset + length)])
                    #expect(Hash64.hash(slice, seed: 3) == Hash64.hash(Array(big[offset..<(offset + length)]), seed: 3))
                }
            }
        }
    }

    @Test func prefixesAndZeroPadding_allHashDifferently() {
        var seen = Set<UInt64>()
        var bytes: [UInt8] = []
        for _ in 0...64 {
            seen.insert(Hash64.hash(bytes, seed: Hash64.seedA))
            bytes.append(0)
        }
        #expect(seen.count == 65, "hashes of 0...64 zero bytes collide; length must be mixed in")
    }

    @Test func seed_changes_hash() {
        #expect(Hash64.hash("x", seed: 1) != Hash64.hash("x", seed: 2))
        #expect(Hash64.hash("prompt", seed: Hash64.seedA) != Hash64.hash("prompt", seed: Hash64.seedB))
    }

    @Test func singleBitFlips_changeAboutHalfTheOutputBits() {
        let base = Array("an ordinary prompt of a few dozen bytes.".utf8)
        let h0 = Hash64.hash(base, seed: Hash64.seedA)
        var total = 0
        var flips = 0
        for i in 0..<base.count {
            for bit in 0..<8 {
                var b = base
                b[i] ^= 1 << bit
                let d = (Hash64.hash(b, seed: Hash64.seedA) ^ h0).nonzeroBitCount
                #expect(d > 0)
                total += d
                flips += 1
            }
        }
        let mean = Double(total) / Double(flips)
        #expect(mean > 28 && mean < 36, "mean changed bits \(mean)")
    }
}

@Suite struct SeededRandomTests {
    static let pinned: [(UInt64, [UInt64])] = [
        (0, [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0]),
        (42, [0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1]),
    ]

    @Test(arguments: pinned)
    func seed_firstOutputs_matchPinnedValues(_ seed: UInt64, _ expected: [UInt64]) {
        var r = SeededRandom(seed: seed)
        #expect((0..<3).map { _ in r.next() } == expected)
    }

    @Test(arguments: [0, 1, 99, UInt64.max])
    func sameSeed_twoGenerators_produceSameSequence(_ seed: UInt64) {
        var a = SeededRandom(seed: seed), b = SeededRandom(seed: seed)
        for _ in 0..<1_000 { #expect(a.next() == b.next()) }
    }

    @Test func differentSeeds_produceDifferentSequences() {
        var a = SeededRandom(seed: 1), b = SeededRandom(seed: 2)
        let xs = (0..<8).map { _ in a.next() }, ys = (0..<8).map { _ in b.next() }
        #expect(xs != ys)
    }

    @Test(arguments: [1, 2, 3, 7, 10, 1_000, Int.max])
    func bound_below_staysInRange(_ bound: Int) {
        var r = SeededRandom(seed: UInt64(truncatingIfNeeded: bound))
        for _ in 0..<2_000 {
            let v = r.below(bound)
            #expect(v >= 0 && v < bound)
        }
    }

    @Test func below_tenBuckets_areRoughlyUniform() {
        var r = SeededRandom(seed: 2024)
        var counts = [Int](repeating: 0, count: 10)
        let n = 100_000
        for _ in 0..<n { counts[r.below(10)] += 1 }
        let expected = Double(n) / 10
        let chi2 = counts.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        // 9 degrees of freedom: P(chi2 > 27.9) = 0.001.
        #expect(chi2 < 27.9, "counts \(counts), chi2 \(chi2)")
    }

    @Test func unit_isInHalfOpenUnitInterval_withMeanNearHalf() {
        var r = SeededRandom(seed: 5)
        var sum = 0.0
        for _ in 0..<10_000 {
            let u = r.unit()
            #expect(u >= 0 && u < 1)
            sum += u
        }
        #expect(abs(sum / 10_000 - 0.5) < 0.02)
    }
}
