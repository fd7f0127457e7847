//! The resource graph: nodes with typed dependencies, checked for cycles when built.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::resource::{NodeId, Resource};

pub struct Node {
    pub id: NodeId,
    /// The `Name` tag (and, where AWS names things, the resource name).
    pub name: String,
    pub deps: Vec<NodeId>,
    /// The dependencies whose identity (id, ARN: known when their create returns) is all
    /// this node needs; it waits for the others to be ready.
    pub identity_only: BTreeSet<NodeId>,
    pub resource: Arc<dyn Resource>,
}

/// What a dependent needs of a dependency before it may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Its id or ARN, known when its create call returns (a policy naming a cluster's ARN).
    Identity,
    /// Its wait finished (a route through a NAT gateway that must be `available`).
    Ready,
}

#[derive(Default)]
pub struct GraphBuilder {
    nodes: Vec<Node>,
}

impl GraphBuilder {
    /// A node whose dependencies are the nodes its resource references.
    pub fn add(
        &mut self,
        id: impl Into<NodeId>,
        name: impl Into<String>,
        resource: impl Resource + 'static,
    ) -> &mut Self {
        self.add_after(id, name, &[], resource)
    }

    /// A node that must also wait for `after`, nodes whose outputs it does not read but
    /// that AWS needs in place first (a NAT gateway's internet gateway).
    pub fn add_after(
        &mut self,
        id: impl Into<NodeId>,
        name: impl Into<String>,
        after: &[&str],
        resource: impl Resource + 'static,
    ) -> &mut Self {
        let mut deps = resource.references();
        for d in after {
            if !deps.iter().any(|known| known == d) {
                deps.push(d.to_string());
            }
        }
        let node = Node {
            id: id.into(),
            name: name.into(),
            deps,
            identity_only: BTreeSet::new(),
            resource: Arc::new(resource),
        };
        self.nodes.push(node);
        self
    }

    /// `node` needs only the identity of `deps` (each already one of its dependencies):
    /// it starts as soon as their create calls return, not when they become ready. Say
    /// so only where AWS accepts the id of a resource still being made (an IAM policy
    /// naming a DSQL cluster's ARN), never where the dependent uses the resource.
    pub fn needs_identity_only(&mut self, node: &str, deps: &[&str]) -> &mut Self {
        let n = self.nodes.iter_mut().find(|n| n.id == node).unwrap_or_else(|| panic!("no node `{node}` (a bug)"));
        n.identity_only.extend(deps.iter().map(|d| d.to_string()));
        self
    }

    pub fn build(self) -> Result<Graph, GraphError> {
        let mut index = BTreeMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if index.insert(n.id.clone(), i).is_some() {
                return Err(GraphError::Duplicate(n.id.clone()));
            }
        }
        for n in &self.nodes {
            for d in &n.deps {
                if !index.contains_key(d) {
                    return Err(GraphError::UnknownDependency { node: n.id.clone(), dep: d.clone() });
                }
            }
            if let Some(d) = n.identity_only.iter().find(|d| !n.deps.contains(d)) {
                return Err(GraphError::UnknownDependency { node: n.id.clone(), dep: d.clone() });
            }
        }
        let order = topo_order(&self.nodes, &index)?;
        let mut dependents = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for d in &n.deps {
                dependents[index[d]].push(i);
            }
        }
        Ok(Graph { nodes: self.nodes, index, order, dependents })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("node `{0}` is defined twice")]
    Duplicate(NodeId),
    #[error("node `{node}` depends on `{dep}`, which is not in the graph")]
    UnknownDependency { node: NodeId, dep: NodeId },
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<NodeId>),
}

pub struct Graph {
    nodes: Vec<Node>,
    index: BTreeMap<NodeId, usize>,
    order: Vec<usize>,
    dependents: Vec<Vec<usize>>,
}

impl Graph {
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }
    pub fn find(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }
    /// Indices in an order where every node comes after its dependencies.
    pub fn topo(&self) -> &[usize] {
        &self.order
    }
    pub fn deps_of(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.nodes[i].deps.iter().map(|d| self.index[d])
    }
    pub fn dependents_of(&self, i: usize) -> &[usize] {
        &self.dependents[i]
    }
    /// What node `i` needs of its dependency `dep` before it may start.
    pub fn need(&self, i: usize, dep: usize) -> Need {
        if self.nodes[i].identity_only.contains(&self.nodes[dep].id) { Need::Identity } else { Need::Ready }
    }
    /// The nodes `ids` name and everything they depend on, directly or not.
    pub fn with_dependencies(&self, ids: &[&str]) -> BTreeSet<usize> {
        let mut found = BTreeSet::new();
        let mut queue: Vec<usize> = ids.iter().filter_map(|id| self.find(id)).collect();
        while let Some(i) = queue.pop() {
            if found.insert(i) {
                queue.extend(self.deps_of(i));
            }
        }
        found
    }
    pub fn ids(&self) -> BTreeSet<&str> {
        self.nodes.iter().map(|n| n.id.as_str()).collect()
    }
}

/// Kahn's algorithm, ties broken by insertion order so runs are repeatable.
fn topo_order(nodes: &[Node], index: &BTreeMap<NodeId, usize>) -> Result<Vec<usize>, GraphError> {
    let mut indegree: Vec<usize> = nodes.iter().map(|n| n.deps.len()).collect();
    let mut dependents = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for d in &n.deps {
            dependents[index[d]].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..nodes.len()).filter(|i| indegree[*i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in &dependents[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.insert(j);
            }
        }
    }
    if order.len() == nodes.len() {
        return Ok(order);
    }
    // Walk the remaining nodes to name one cycle.
    let stuck: BTreeSet<usize> = (0..nodes.len()).filter(|i| indegree[*i] > 0).collect();
    let mut path = vec![*stuck.first().expect("a stuck node")];
    loop {
        let last = *path.last().expect("non-empty");
        let next =
            nodes[last].deps.iter().map(|d| index[d]).find(|d| stuck.contains(d)).expect("stuck nodes have stuck deps");
        if let Some(pos) = path.iter().position(|p| *p == next) {
            let mut cycle: Vec<NodeId> = path[pos..].iter().map(|i| nodes[*i].id.clone()).collect();
            cycle.push(nodes[next].id.clone());
            return Err(GraphError::Cycle(cycle));
        }
        path.push(next);
    }
}
