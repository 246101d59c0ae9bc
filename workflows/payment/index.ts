export { paymentWorkflow } from './workflow';
