import RoutingCore
import WRPCommon

/// Which router nodes probe and scrape each backend (DESIGN.md §5 "Work split").
///
/// The router nodes sit on a consistent-hash ring (`Routing.HashRing`, fixed seed, 160 virtual
/// nodes each); a backend's owners are the first `count` distinct nodes met walking the ring from
/// the hash of its id. Every node computes the same owners from the same member set, whatever
/// order it lists them in. When a node joins, each backend's owner list either stays the same or
/// gains the new node (≈ count/n of backends change); when one leaves, only the backends it owned
/// change, each replacing it by the next node on the ring.
public struct WorkSplit: Sendable {
    /// Ring seed shared by every node (must never change: all nodes must agree).
    public static let seed: UInt64 = 0x5752_5053_504C_4954

    /// The router node ids, sorted and deduplicated.
    public let nodes: [String]
    var ring: Routing.HashRing

    /// Builds the ring over `routerNodes` (the alive members' ids; duplicates are ignored).
    /// O(160·n·log n): build once per membership change and reuse.
    public init(routerNodes: [String], virtualNodesPerNode: Int = 160) {
        nodes = Array(Set(routerNodes)).sorted()
        ring = Routing.HashRing(seed: WorkSplit.seed, virtualNodesPerWeight: virtualNodesPerNode)
        ring.rebuild(members: nodes.map { (id: $0, weight: 1.0) })
    }

    /// The backend's owner nodes, in ring order (first = primary): min(count, nodes) ids.
    public func owners(of backendID: String, count: Int = 2) -> [String] {
        var out: [String] = []
        guard count > 0 else { return out }
        out.reserveCapacity(min(count, nodes.count))
        ring.forEachDistinct(from: Hash64.hash(backendID, seed: WorkSplit.seed)) { i in
            out.append(nodes[i])
            return out.count < count
        }
        return out
    }

    /// Whether `node` is one of the backend's `count` owners.
    public func isOwner(_ node: String, of backendID: String, count: Int = 2) -> Bool {
        owners(of: backendID, count: count).contains(node)
    }

    /// One-shot form of `owners(of:count:)` (builds the ring each call).
    public static func owners(of backendID: String, routerNodes: [String], count: Int = 2) -> [String] {
        WorkSplit(routerNodes: routerNodes).owners(of: backendID, count: count)
    }
}
