import Testing
import RoutingCore
import WRPCommon

@Suite struct HashRingTests {
    func ring(_ ids: [String], removed: Set<String> = []) -> Routing.HashRing {
        var r = Routing.HashRing(seed: Hash64.seedA, virtualNodesPerWeight: 160)
        r.rebuild(members: ids.map { (id: $0, weight: removed.contains($0) ? 0 : 1) })
        return r
    }

    @Test(arguments: [4, 8, 16])
    func keys_addingBackend_moveAboutOneNthOnlyToIt(n: Int) {
        let before = ring((0..<n).map { "b-\($0)" })
        let after = ring((0...n).map { "b-\($0)" })
        var rng = SeededRandom(seed: UInt64(n))
        let keys = 20_000
        var moved = 0
        for _ in 0..<keys {
            let k = rng.next()
            let a = before.owner(of: k)!, b = after.owner(of: k)!
            if a != b {
                moved += 1
                #expect(b == n, "a key moved between old members \(a) → \(b)")
            }
        }
        let share = Double(moved) / Double(keys)
        let ideal = 1.0 / Double(n + 1)
        #expect(share > ideal * 0.6 && share < ideal * 1.5, "moved \(share), ideal \(ideal)")
    }

    @Test func keys_removingBackend_moveOnlyItsKeys() {
        let ids = (0..<8).map { "b-\($0)" }
        let before = ring(ids)
        let after = ring(ids, removed: ["b-3"])
        var rng = SeededRandom(seed: 9)
        for _ in 0..<20_000 {
            let k = rng.next()
            let a = before.owner(of: k)!, b = after.owner(of: k)!
            if a != 3 { #expect(a == b) } else { #expect(b != 3) }
        }
    }

    @Test func rings_differentSeeds_disagreeOnOwners() {
        let ids = (0..<8).map { (id: "b-\($0)", weight: 1.0) }
        var r1 = Routing.HashRing(seed: Hash64.seedA), r2 = Routing.HashRing(seed: Hash64.seedB)
        r1.rebuild(members: ids); r2.rebuild(members: ids)
        var same = 0
        var rng = SeededRandom(seed: 3)
        for _ in 0..<8_000 where r1.owner(of: rng.next()) == r2.owner(of: rng.next()) { same += 1 }
        #expect(same < 1_600, "rings look correlated: \(same) of 8000 agree")
    }
}
