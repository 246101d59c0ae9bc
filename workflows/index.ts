// The worker's single entry for workflow code (workflowsPath points here).
export { baselineWorkflow } from './baseline';
export { paymentWorkflow } from './payment';
export { refundWorkflow } from './refund';
export { reconcileWorkflow } from './reconcile';
export { paymentOperatorWorkflow } from './operator';
