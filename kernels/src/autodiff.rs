//! The autodiff decorator's side: each fused op is one node of the graph whose backward calls
//! the inner backend's `*_backward` primitive, in place of the chain of nodes (and saved
//! intermediates) the composite forward would record.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{binary, unary, Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend};

use crate::FusedOps;

impl<B: Backend + FusedOps, C: CheckpointStrategy> FusedOps for Autodiff<B, C> {
    fn fused_quick_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct QuickGelu;

        impl<B: Backend + FusedOps> Backward<B, 1> for QuickGelu {
            /// The input.
            type State = FloatTensor<B>;

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
                let x = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| B::fused_quick_gelu_backward(x, grad));
            }
        }

        let out = B::fused_quick_gelu(x.primitive().clone());
        match QuickGelu.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(x.into_primitive(), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    fn fused_add(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Add;

        impl<B: Backend + FusedOps> Backward<B, 2> for Add {
            type State = ();

            fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
                binary::<B, _, _>(ops.parents, ops.node, grads, |grad| grad, |grad| grad);
            }
        }

        let nodes = [a.node(), b.node()];
        let out = B::fused_add(a.into_primitive(), b.into_primitive());
        Add.prepare::<C>(nodes).compute_bound().stateless(out)
    }

    fn fused_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct LayerNorm;

        impl<B: Backend + FusedOps> Backward<B, 3> for LayerNorm {
            /// The input, γ and ε.
            type State = (FloatTensor<B>, FloatTensor<B>, f64);

            fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
                let (x, gamma, epsilon) = ops.state;
                let grad = grads.consume::<B>(&ops.node);
                let (dx, dgamma, dbeta) = B::fused_layer_norm_backward(x, gamma, grad, epsilon);
                let [node_x, node_gamma, node_beta] = ops.parents;
                for (node, g) in [(node_x, dx), (node_gamma, dgamma), (node_beta, dbeta)] {
                    if let Some(node) = node {
                        grads.register::<B>(node.id, g);
                    }
                }
            }
        }

        let nodes = [x.node(), gamma.node(), beta.node()];
        let state = (x.primitive().clone(), gamma.primitive().clone(), epsilon);
        let out = B::fused_layer_norm(x.into_primitive(), gamma.into_primitive(), beta.into_primitive(), epsilon);
        match LayerNorm.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(state, out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    fn fused_tap_sum(y: FloatTensor<Self>, kernel: [usize; 3]) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct TapSum;

        impl<B: Backend + FusedOps> Backward<B, 1> for TapSum {
            /// The kernel extents.
            type State = [usize; 3];

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
                let kernel = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| B::fused_tap_sum_backward(grad, kernel));
            }
        }

        let node = y.node();
        let out = B::fused_tap_sum(y.into_primitive(), kernel);
        match TapSum.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(kernel, out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    fn fused_conv_same(
        x: FloatTensor<Self>,
        weights: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        kernel: [usize; 3],
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ConvSame;

        impl<B: Backend + FusedOps> Backward<B, 3> for ConvSame {
            /// The input, the weights and the kernel extents.
            type State = (FloatTensor<B>, FloatTensor<B>, [usize; 3]);

            fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
                let (x, weights, kernel) = ops.state;
                let grad = grads.consume::<B>(&ops.node);
                let [node_x, node_w, node_bias] = ops.parents;
                let (dx, dw, dbias) = B::fused_conv_same_backward(x, weights, grad, kernel, node_x.is_some());
                for (node, g) in [(node_x, dx), (node_w, Some(dw)), (node_bias, Some(dbias))] {
                    if let (Some(node), Some(g)) = (node, g) {
                        grads.register::<B>(node.id, g);
                    }
                }
            }
        }

        let nodes = [x.node(), weights.node(), bias.node()];
        let state = (x.primitive().clone(), weights.primitive().clone(), kernel);
        let out = B::fused_conv_same(x.into_primitive(), weights.into_primitive(), bias.into_primitive(), kernel);
        match ConvSame.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(state, out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    fn fused_linear(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Linear;

        impl<B: Backend + FusedOps> Backward<B, 3> for Linear {
            /// `x` when `w` needs a gradient, `w` when `x` does.
            type State = (Option<FloatTensor<B>>, Option<FloatTensor<B>>);

            fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
                let (x, w) = ops.state;
                let grad = grads.consume::<B>(&ops.node);
                let [node_x, node_w, node_bias] = ops.parents;
                if let Some(node) = node_bias {
                    grads.register::<B>(node.id, B::fused_sum_rows(grad.clone()));
                }
                if let Some(node) = node_w {
                    let x = x.expect("kept for the weight gradient");
                    grads.register::<B>(node.id, B::fused_matmul(B::float_transpose(x), grad.clone()));
                }
                if let Some(node) = node_x {
                    let w = w.expect("kept for the input gradient");
                    grads.register::<B>(node.id, B::fused_matmul(grad, B::float_transpose(w)));
                }
            }
        }

        let nodes = [x.node(), w.node(), bias.node()];
        let state = (w.is_tracked().then(|| x.primitive().clone()), x.is_tracked().then(|| w.primitive().clone()));
        let out = B::fused_linear(x.into_primitive(), w.into_primitive(), bias.into_primitive());
        match Linear.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(state, out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    fn fused_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Matmul;

        impl<B: Backend + FusedOps> Backward<B, 2> for Matmul {
            /// `lhs` when `rhs` needs a gradient, `rhs` when `lhs` does.
            type State = (Option<FloatTensor<B>>, Option<FloatTensor<B>>);

            fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
                let (lhs, rhs) = ops.state;
                binary::<B, _, _>(
                    ops.parents,
                    ops.node,
                    grads,
                    |grad| B::fused_matmul(grad, B::float_transpose(rhs.expect("kept for the lhs gradient"))),
                    |grad| B::fused_matmul(B::float_transpose(lhs.expect("kept for the rhs gradient")), grad),
                );
            }
        }

        let (lhs_tracked, rhs_tracked) = (lhs.is_tracked(), rhs.is_tracked());
        let nodes = [lhs.node(), rhs.node()];
        let state = (rhs_tracked.then(|| lhs.primitive().clone()), lhs_tracked.then(|| rhs.primitive().clone()));
        let out = B::fused_matmul(lhs.into_primitive(), rhs.into_primitive());
        match Matmul.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(state, out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }
}
