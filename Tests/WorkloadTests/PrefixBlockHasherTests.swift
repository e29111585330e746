import Testing
import WRPCommon
import Workload

func blockHashes(_ bytes: [UInt8], blockBytes: Int = 8, seed: UInt64 = 7, maxBlocks: Int = 4096) -> (hashes: [UInt64], tail: UInt64, total: Int) {
    var h = PrefixBlockHasher(blockBytes: blockBytes, maxBlocks: maxBlocks)
    h.reset(seed: seed)
    for b in bytes { h.append(b) }
    return (h.hashes, h.tailHash, h.totalBytes)
}

@Suite struct PrefixBlockHasherTests {
    static let text = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN".utf8)  // 50 bytes: 6 blocks of 8 + 2

    @Test func blocks_eachHash_chainsThePreviousHashAsSeed() {
        let r = blockHashes(PrefixBlockHasherTests.text)
        #expect(r.hashes.count == 6)
        #expect(r.total == 50)
        var prev: UInt64 = 7
        for k in 0..<6 {
            let expected = Hash64.hash(Array(PrefixBlockHasherTests.text[(k * 8)..<(k * 8 + 8)]), seed: prev)
            #expect(r.hashes[k] == expected, "block \(k)")
            prev = expected
        }
        #expect(r.tail == Hash64.hash(Array(PrefixBlockHasherTests.text[48..<50]), seed: prev))
    }

    @Test(arguments: 0..<7)
    func changedByteInBlock_changesThatAndAllLaterHashesOnly(block j: Int) {
        let base = blockHashes(PrefixBlockHasherTests.text)
        var edited = PrefixBlockHasherTests.text
        edited[min(j * 8 + 3, edited.count - 1)] ^= 0x20
        let r = blockHashes(edited)
        for k in 0..<6 {
            if k < j { #expect(r.hashes[k] == base.hashes[k], "block \(k) before the edit in \(j) changed") }
            else { #expect(r.hashes[k] != base.hashes[k], "block \(k) after the edit in \(j) did not change") }
        }
        #expect(r.tail != base.tail)
    }

    @Test func identicalLaterBlocks_afterDifferentFirstBlock_haveDifferentHashes() {
        let a = blockHashes(Array("AAAAAAAA".utf8) + Array(repeating: UInt8(ascii: "z"), count: 24))
        let b = blockHashes(Array("BBBBBBBB".utf8) + Array(repeating: UInt8(ascii: "z"), count: 24))
        #expect(a.hashes.count == 4 && b.hashes.count == 4)
        for k in 0..<4 { #expect(a.hashes[k] != b.hashes[k]) }
        // Within one prompt, equal block contents still hash differently because of the chain.
        #expect(Set(a.hashes).count == 4)
    }

    @Test(arguments: [(0, 0), (1, 0), (7, 0), (8, 1), (9, 1), (16, 2), (50, 6)])
    func length_tailHash_coversPartialBlockOnlyWhenPresent(_ n: Int, _ blocks: Int) {
        let r = blockHashes(Array(PrefixBlockHasherTests.text.prefix(n)))
        #expect(r.hashes.count == blocks)
        #expect(r.total == n)
        let lastFull = r.hashes.last ?? 7
        if n % 8 == 0 { #expect(r.tail == lastFull) } else { #expect(r.tail != lastFull) }
    }

    @Test func differentPartialTails_sameFullBlocks_differentTailHashes() {
        let a = blockHashes(Array("12345678abc".utf8))
        let b = blockHashes(Array("12345678abd".utf8))
        #expect(a.hashes == b.hashes)
        #expect(a.tail != b.tail)
    }

    @Test func differentSeeds_differentChains() {
        let a = blockHashes(PrefixBlockHasherTests.text, seed: PrefixBlockHasher.modelSeed("a"))
        let b = blockHashes(PrefixBlockHasherTests.text, seed: PrefixBlockHasher.modelSeed("b"))
        for k in 0..<6 { #expect(a.hashes[k] != b.hashes[k]) }
        #expect(PrefixBlockHasher.modelSeed("gpt-4o") == Hash64.hash("gpt-4o", seed: Hash64.seedA))
    }

    @Test func reset_reusedHasher_matchesFreshOne() {
        var h = PrefixBlockHasher(blockBytes: 8)
        h.reset(seed: 1)
        for b in Array("something else entirely, 30 b".utf8) { h.append(b) }
        h.reset(seed: 7)
        PrefixBlockHasherTests.text.withUnsafeBytes { h.append($0) }
        let fresh = blockHashes(PrefixBlockHasherTests.text)
        #expect(h.hashes == fresh.hashes)
        #expect(h.tailHash == fresh.tail)
        #expect(h.totalBytes == fresh.total)
    }

    @Test func maxBlocks_reached_stopsChainingButCountsBytes() {
        let r = blockHashes(PrefixBlockHasherTests.text, maxBlocks: 2)
        let full = blockHashes(PrefixBlockHasherTests.text)
        #expect(r.hashes == Array(full.hashes.prefix(2)))
        #expect(r.total == 50)
        #expect(r.tail == full.hashes[1])
    }
}
